/**
 * The listening TCP ports of a container's network namespace, looked at
 * again and again during one wait: through a NETLINK_SOCK_DIAG socket opened
 * once inside the namespace of the program's pid (./sock-diag), or, where
 * this process cannot enter that namespace (a rootless runtime's belongs to
 * a user namespace in which it has no CAP_SYS_ADMIN) or the kernel answers
 * no inet_diag dump, through its /proc files (./proc-net).
 *
 * @module
 */
import * as fs from 'node:fs'
import { closeQuietly } from '../sys/libc'
import { netnsInode, openNetns, withNetns } from '../sys/netns'
import { openNetlinkFd } from '../sys/sockets'
import { listeningTcpPorts } from './proc-net'
import { diagListeningPorts, NETLINK_SOCK_DIAG } from './sock-diag'

/** How the ports are read: 'sock_diag' (a dump of LISTEN sockets) or 'proc' (/proc/<pid>/net/tcp{,6}). */
export type ListenersSource = 'sock_diag' | 'proc'

/** The network namespace `pid` is in now (its inode), or undefined when the process is gone. */
function netnsOf(pid: number): number | undefined {
  return fs.statSync(`/proc/${pid}/ns/net`, { throwIfNoEntry: false })?.ino
}

/** The listening ports of the namespace of one pid at a time; {@link close} it when the wait ends. */
export class NamespaceListeners {
  private pid: number | undefined
  /** The namespace the socket was opened in: a process can move to another one (unshare, setns). */
  private netns: number | undefined
  private fd = -1
  private diagRefused = false

  /** The TCP ports with a listening socket in the network namespace `pid` is in (IPv4 and IPv6). */
  ports(pid: number): Set<number> {
    if (pid !== this.pid || netnsOf(pid) !== this.netns) this.openFor(pid)
    if (this.fd >= 0) {
      try {
        return diagListeningPorts(this.fd)
      } catch {
        // No inet_diag here (or a dump cut short): /proc tells the same, slower.
        this.closeSocket()
        this.diagRefused = true
      }
    }
    return listeningTcpPorts(pid)
  }

  /** Which way the last {@link ports} read them. */
  get source(): ListenersSource {
    return this.fd >= 0 ? 'sock_diag' : 'proc'
  }

  /** Closes the socket. */
  close(): void {
    this.closeSocket()
    this.pid = undefined
    this.netns = undefined
  }

  private openFor(pid: number): void {
    this.closeSocket()
    this.pid = pid
    this.netns = undefined
    if (this.diagRefused) return void (this.netns = netnsOf(pid))
    let netns = -1
    try {
      netns = openNetns(`/proc/${pid}/ns/net`)
      this.netns = netnsInode(netns)
      this.fd = withNetns(netns, () => openNetlinkFd(NETLINK_SOCK_DIAG))
    } catch {
      // The program is gone, or its namespace cannot be entered from here (rootless): /proc instead.
      this.fd = -1
    } finally {
      closeQuietly(netns)
    }
  }

  private closeSocket(): void {
    closeQuietly(this.fd)
    this.fd = -1
  }
}
