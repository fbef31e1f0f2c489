/**
 * What a rootless container may ask for, checked at create before anything
 * is pulled or made: `network: 'none'`, `host` (as podman's rootless `--network
 * host`: the host's namespace, where the container's root has no privilege, so it
 * binds ports and reaches the host's loopback as the user would, and changes no
 * interface), or (with a subordinate id range) the default bridge, a user network
 * in the runtime's own namespace or another container's (`container:<name>`: both
 * live in the keeper's user namespace, so the shim may setns into it); and no host
 * devices (mknod of a device is EPERM in a user namespace).
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import { RootlessUnsupportedError } from './errors'
import type { RootlessIdentity } from './identity'

/**
 * EUNSUPPORTED for a bridge, user network or `container:` without a subordinate range (`ids.networkNamespace`
 * says why), and for `devices`, naming the workaround.
 */
export function checkRootlessRunOptions(
  opts: { network?: string | { readonly name: string }; devices?: readonly unknown[] },
  ids: Pick<RootlessIdentity, 'checkNetworks'> | undefined,
): void {
  const network = opts.network ?? 'bridge'
  const name = typeof network === 'string' ? network : network.name
  const what = `run a container on network ${JSON.stringify(name)}`
  if (name !== 'none' && name !== 'host') {
    ids?.checkNetworks(what)
  }
  if (opts.devices?.length)
    throw new RootlessUnsupportedError('give a container host devices', "a user namespace cannot make device nodes (mknod is EPERM there); bind-mount the device's path with volumes instead, or run as root")
}

/** `userns: 'keep-id'`: EINVALID as root (ids inside are the host's already), EUNSUPPORTED without a range reaching past the user's ids. */
export function checkKeepId(rt: { readonly rootless: boolean; readonly userIds?: RootlessIdentity }): void {
  if (!rt.rootless || !rt.userIds) throw new InvalidArgumentError("userns: 'keep-id' is for rootless runtimes: as root, the ids inside a container are the host's own already")
  rt.userIds.checkKeepId()
}
