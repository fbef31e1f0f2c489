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
 * This module is the whole public surface: classes, functions, option and
 * result types, and every error class. Anything not exported here is internal.
 *
 * @module minicontainer
 */
import { Container } from './container/container'
import type { RunOptions } from './container/types'
import type { RuntimeOption } from './container/context'
import { throwIfAborted } from './errors'

export { Runtime, type RuntimeOptions } from './runtime'
export { Container } from './container/container'
export type { ContainerContext, RuntimeOption } from './container/context'
export type * from './container/types'
export type { CommitOptions } from './container/commit'
export { Image, type ImageContext, type ImageRuntimeOption, type ImportOptions, type LoadOptions, type SaveOptions, type PruneOptions, type PruneResult } from './image/image'
export type { ImageInspect, ImageHistoryEntry } from './image/inspect'
export type { ImageConfig, ImageRecord, HostBind, Healthcheck, HistoryEntry, ManifestRef } from './image/store'
export { Volume, type VolumeContext, type VolumeStoreOption } from './storage/volume'
export type { VolumeInfo, VolumeMeta, VolumeCreateOptions } from './storage/volumes'
export type { MountOption, MountRecord, MountRunOptions } from './storage/mount-types'
export { Network, type ContainerLike, type NetworkContext, type NetworkMembers, type NetworkRuntimeOption } from './network/network'
export type { NetworkSettings, EndpointSettings, NetworkInfo, NetworkRunOptions, HostBinding, CreateNetworkOptions, AttachOptions } from './network/types'
export type { CopyOptions, PathStat, PutArchiveOptions } from './files'
export { defaultCapabilities } from './shim/capabilities'
export * from './errors'
export { NetworkNotFoundError, PortInUseError, AddressInUseError, NetworkInUseError, NoFreeSubnetError, NftablesError, LegacyFirewallError } from './network/errors'
export { VolumeNotFoundError, VolumeInUseError, MountSourceNotFoundError } from './storage/volume-errors'
export type { FilesErrorReason } from './files/errors'
export { FilesError, PathNotFoundError, NotADirectoryError, DirectoryOntoFileError, DirNonDirError, ReadOnlyError, UnsafeEntryError } from './files/errors'

/**
 * Creates and starts a container (`docker run`). Resolves once the program
 * runs; a start that fails, or is aborted through `opts.signal`, removes the
 * container again and throws (a {@link StartError} naming the step, errno
 * and path, or the signal's reason).
 *
 * @param image - image ref ("bb:latest"), id or id prefix
 * @param cmd - command; defaults to the image's
 * @param opts - Docker-like options, plus `runtime` to target a non-default {@link Runtime}
 */
export async function run(image: string, cmd?: string[], opts: RunOptions & RuntimeOption = {}): Promise<Container> {
  throwIfAborted(opts.signal, `running ${image}`)
  const container = await Container.create(image, cmd, opts)
  try {
    await container.start({ signal: opts.signal })
  } catch (err) {
    await container.remove({ force: true }).catch(() => {})
    throw err
  }
  return container
}
