/**
 * What a rootless container may ask for, checked at create before anything
 * is pulled or made: its own network namespace with a loopback alone
 * (`network: 'none'`), and no host devices (mknod of a device is EPERM in a
 * user namespace).
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import { RootlessUnsupportedError, rootlessNetworkWorkaround } from './errors'
import type { RootlessIdentity } from './identity'

/** EUNSUPPORTED for a network other than 'none' (the default 'bridge' included) or `devices`, naming the workaround. */
export function checkRootlessRunOptions(opts: { network?: string | { readonly name: string }; devices?: readonly unknown[] }): void {
  const network = opts.network ?? 'bridge'
  const name = typeof network === 'string' ? network : network.name
  if (name !== 'none') throw new RootlessUnsupportedError(`run a container on network ${JSON.stringify(name)}`, rootlessNetworkWorkaround)
  if (opts.devices?.length)
    throw new RootlessUnsupportedError('give a container host devices', "a user namespace cannot make device nodes (mknod is EPERM there); bind-mount the device's path with volumes instead, or run as root")
}

/** `userns: 'keep-id'`: EINVALID as root (ids inside are the host's already), EUNSUPPORTED without a range reaching past the user's ids. */
export function checkKeepId(rt: { readonly rootless: boolean; readonly userIds?: RootlessIdentity }): void {
  if (!rt.rootless || !rt.userIds) throw new InvalidArgumentError("userns: 'keep-id' is for rootless runtimes: as root, the ids inside a container are the host's own already")
  rt.userIds.checkKeepId()
}
