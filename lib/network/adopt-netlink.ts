/**
 * Netlink sockets opened by another process (in another network namespace)
 * driven by the `netlink` package as if it had made them.
 *
 * The package only creates sockets itself, in the calling thread's
 * namespace. So a socket of ours is created as usual, and the received one
 * is put in place of its fd (dup3) before Node's event loop runs again: the
 * package's poll watcher registers the fd with epoll on the loop's next turn,
 * and so watches the received socket from the start. Every request then
 * reaches the kernel of the namespace the received socket belongs to.
 *
 * @module
 */
import * as fs from 'node:fs'
import { createNetlink, type NetlinkSocket, type Protocol } from 'netlink'
import { InternalError } from '../errors'
import { closeQuietly, replaceFd } from '../sys/libc'
import { pinNetlinkAddon } from './pin-netlink-addon'
import { netlinkPortOf, netlinkQuietOverruns } from '../sys/sockets'

// Every netlink socket is made here: a worker_thread's end must not unmap the addon under its close callbacks.
pinNetlinkAddon()

/** The fd of this process's netlink socket of `protocol` bound to `port` (ports are unique per protocol and namespace). */
function fdOfNetlinkPort(port: number, protocol: Protocol): number {
  for (const name of fs.readdirSync('/proc/self/fd')) {
    const fd = Number(name)
    if (netlinkPortOf(fd, protocol) === port) return fd
  }
  throw new InternalError(`netlink socket of protocol ${protocol} bound to port ${port} not found among this process's fds`)
}

/**
 * A socket made here and its fd, found once (for socket options the package does not set: nf_tables
 * grows its receive buffer); an adopted socket's port may be another namespace's too, so the fd
 * cannot be found again by it.
 */
export interface HeldNetlink {
  /** The `netlink` package's socket. */
  readonly socket: NetlinkSocket
  /** Its fd, the adopted socket's for {@link adoptNetlink}: closed by the socket's close(). */
  readonly fd: number
}

/**
 * A `netlink` package socket that talks over `fd` (a netlink socket of
 * `protocol`, bound and non-blocking, e.g. from mc-shim netns-sockets).
 * Takes ownership of `fd`: it is closed here, and the socket's close()
 * closes the adopted one.
 */
export function adoptNetlink(fd: number, protocol: Protocol): HeldNetlink {
  const sock = createNetlink(protocol)
  try {
    netlinkQuietOverruns(fd)
    const own = fdOfNetlinkPort(sock.address().port, protocol)
    replaceFd(fd, own)
    return { socket: sock, fd: own }
  } catch (err) {
    sock.close()
    throw err
  } finally {
    closeQuietly(fd)
  }
}

/**
 * A new `netlink` package socket of `protocol` in the calling thread's namespace whose overruns are
 * not reported (NETLINK_NO_ENOBUFS): the package's poll handler aborts the process on a socket
 * error (ENOBUFS when answers overran the receive buffer), where a dropped answer only fails its
 * request by the caller's bound. Finding the socket's fd reads /proc/self/fd: for long-lived sockets.
 */
export function quietNetlink(protocol: Protocol): HeldNetlink {
  const sock = createNetlink(protocol)
  try {
    const fd = fdOfNetlinkPort(sock.address().port, protocol)
    netlinkQuietOverruns(fd)
    return { socket: sock, fd }
  } catch (err) {
    sock.close()
    throw err
  }
}
