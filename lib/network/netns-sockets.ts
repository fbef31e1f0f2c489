/**
 * Netlink sockets of a network namespace this process cannot enter: a
 * rootless runtime's namespace belongs to a user namespace in which Node has
 * no CAP_SYS_ADMIN, so setns is refused. mc-shim netns-sockets
 * (native/netns-sockets.c) joins it, opens an rtnetlink and an nf_tables
 * socket there and passes them back; the usual {@link Rtnl} and
 * {@link NfNetlink} code then drives that namespace through them (the kernel
 * accepts requests from the owner of its user namespace). A rootless runtime
 * gets its sockets from its keeper instead, over the channel it already has
 * (lib/rootless/keeper.ts: no process per pair); both are adopted by
 * {@link adoptNetnsNetlink}.
 *
 * @module
 */
import { closeQuietly, reapEnded, socketPair } from '../sys/libc'
import { receiveFds } from '../sys/sockets'
import { startModeProcess } from '../shim/mode-process'
import { InternalError } from '../errors'
import { NfNetlink } from './nfnetlink'
import { Rtnl } from './rtnl'

/** The shim joins and opens in about a millisecond; silence this long means it is stuck. */
const openTimeoutMs = 5000

/** rtnetlink and nf_tables sockets bound to one network namespace. */
export interface NetnsNetlink {
  /** Links, addresses and routes of that namespace. */
  rtnl: Rtnl
  /** Its nf_tables (give it to a Firewall). */
  nfnl: NfNetlink
  /** Closes both sockets. */
  close(): void
}

/**
 * Opens rtnetlink and nf_tables sockets inside the network namespace at
 * `netnsPath` (/proc/<pid>/ns/net, /run/netns/<name>). As a user, that
 * namespace must belong to a user namespace the user owns. Throws a
 * SyscallError naming the failed step (open netns, join userns, join netns).
 */
export async function openNetnsNetlink(netnsPath: string): Promise<NetnsNetlink> {
  const [ours, theirs] = socketPair()
  try {
    const helper = await startModeProcess(['netns-sockets', netnsPath], [theirs], openTimeoutMs)
    helper.control.destroy()
    reapEnded(helper.pid)
    const msg = receiveFds(ours, 2)
    if (!msg || msg.fds.length !== 2) {
      msg?.fds.forEach(closeQuietly)
      throw new InternalError(`mc-shim netns-sockets said it was ready but passed ${msg?.fds.length ?? 0} sockets`)
    }
    const [route, netfilter] = msg.fds as [number, number]
    return adoptNetnsNetlink(route, netfilter)
  } finally {
    closeQuietly(ours)
    closeQuietly(theirs)
  }
}

/** {@link NetnsNetlink} over a NETLINK_ROUTE and a NETLINK_NETFILTER socket opened in a namespace (taking ownership of both). */
export function adoptNetnsNetlink(route: number, netfilter: number): NetnsNetlink {
  const rtnl = Rtnl.adopt(route)
  const nfnl = NfNetlink.adopt(netfilter)
  return { rtnl, nfnl, close: () => (rtnl.close(), nfnl.close()) }
}
