/**
 * minicontainer: Linux containers for Node.js, in-process.
 *
 * ```ts
 * import { run, Image } from 'minicontainer'
 * await Image.fromHost({ ref: 'host' })
 * await using c = await run('host', ['sh', '-c', 'echo hi'])
 * await c.wait()
 * ```
 *
 * @module minicontainer
 */
import { Container } from './container/container'
import type { RuntimeOption } from './runtime'
import type { RunOptions } from './container/types'
import { Runtime } from './runtime'
import { Volume } from './storage/volume'

// Volume.create() & co. without { store } or { runtime } work on the default runtime's volumes.
Volume.useDefaultStore(() => Runtime.default().volumes)

export { Container } from './container/container'
export { Image } from './image/image'
export type { ImportOptions } from './image/image'
export type { ImageConfig, ImageRecord, HostBind } from './image/store'
export { Runtime } from './runtime'
export { Volume } from './storage/volume'
export type { VolumeStoreOption } from './storage/volume'
export { VolumeStore } from './storage/volumes'
export type { VolumeInfo, VolumeMeta, VolumeCreateOptions } from './storage/volumes'
export type { MountOption, MountRecord, MountRunOptions, ResolvedMount } from './storage/mount-types'
export type { VolumePaths, VolumeUsers } from './storage/volumes'
export type { RuntimeOptions, RuntimeOption } from './runtime'
export { Network, type ContainerLike } from './network/network'
export type { NetworkSettings, EndpointSettings, NetworkInfo, HostBinding, CreateNetworkOptions, AttachOptions } from './network/types'
export { NetworkNotFoundError, PortInUseError, AddressInUseError, NetworkInUseError, NoFreeSubnetError, NftablesError } from './network/errors'
export * from './errors'
export type * from './container/types'
export type { CommitOptions } from './container/commit'
export type { CopyOptions, PathStat, PutArchiveOptions } from './files'
export { defaultCapabilities } from './shim/capabilities'

/**
 * Creates and starts a container (`docker run`). Resolves once the program
 * runs; a start that fails removes the container again and throws a
 * {@link StartError} naming the step, errno and path.
 *
 * @param image - image ref ("bb:latest"), id or id prefix
 * @param cmd - command; defaults to the image's
 * @param opts - Docker-like options, plus `runtime` to target a non-default {@link Runtime}
 */
export async function run(image: string, cmd?: string[], opts: RunOptions & RuntimeOption = {}): Promise<Container> {
  const container = await Container.create(image, cmd, opts)
  try {
    await container.start({ signal: opts.signal })
  } catch (err) {
    await container.remove({ force: true }).catch(() => {})
    throw err
  }
  return container
}
