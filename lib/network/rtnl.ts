/**
 * Links, addresses and routes over rtnetlink (the `netlink` package): the
 * bridge per network, the veth pair per container endpoint, and the
 * container side's address and default route.
 *
 * A socket is bound to the network namespace it was created in, so the
 * container side is configured through a socket opened while briefly
 * inside the container's namespace ({@link withNetns}).
 *
 * @module
 */
import * as fs from 'node:fs'
import './pin-netlink-addon' // before the package: see there
import { FlagsNew, Protocol, RtNetlinkSocket, type rt } from 'netlink'
import { MiniContainerError } from '../errors'
import { withNetns } from '../sys/netns'
import { netlinkOverFd, openNetlink, type NetlinkFdOptions } from './netlink-fd'
import { NetlinkTurns, type ReplyBound } from './netlink-turns'
import { attr, nested, strAttr, u32Attr } from './nlattr'
import { ipToBuffer, type Cidr } from './ipam'
import { debug } from '../util/debug'

const AF_INET = 2
const RT_TABLE_MAIN = 254
const RT_TABLE_LOCAL = 255
const IFLA_ADDRESS = 1
const IFLA_IFNAME = 3
const IFLA_NET_NS_FD = 28
const IFLA_NUM_TX_QUEUES = 31
const IFLA_NUM_RX_QUEUES = 32
const IFLA_INFO_KIND = 1
const IFLA_INFO_DATA = 2
const IFLA_INFO_SLAVE_DATA = 5
const IFLA_BRPORT_MODE = 4
const VETH_INFO_PEER = 1
const IFINFOMSG_LEN = 16
/** The kernel always gives a namespace's loopback device index 1. */
export const LOOPBACK_IFINDEX = 1

/** An rtnetlink failure, with the errno name the kernel answered. */
export class RtnlError extends MiniContainerError {
  /** @param op - what was attempted; @param errno - kernel errno name ("EEXIST"...); @param detail - why, when the errno alone does not say. */
  constructor(
    op: string,
    readonly errno: string,
    detail?: string,
  ) {
    super('ESYSCALL', `rtnetlink ${op} failed: ${errno}${detail ? ` (${detail})` : ''}`)
  }
}

/** How long a request or dump waits for the kernel's answer: it comes in microseconds, but a loaded machine's event loop may be seconds late. */
export const RTNL_REPLY_TIMEOUT_MS = 10_000

/** A late answer ends the turn with an error naming the request; the socket is then spent (./netlink-turns). */
const replyBound: ReplyBound = {
  ms: RTNL_REPLY_TIMEOUT_MS,
  late: (what, spentBy) =>
    spentBy
      ? new RtnlError(what, 'ETIMEDOUT', `not sent: its socket stopped answering (${spentBy}); it is replaced, try again`)
      : new RtnlError(what, 'ETIMEDOUT', `no answer from the kernel within ${RTNL_REPLY_TIMEOUT_MS / 1000} s; the socket is replaced, try again`),
}

/** The errno name inside an error thrown by the `netlink` package ("Request rejected: EEXIST"). */
function netlinkErrno(err: unknown): string {
  const m = /Request rejected: (\w+)/.exec(String((err as Error)?.message ?? err))
  return m ? m[1] : String((err as Error)?.message ?? err)
}

async function call<T>(op: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send()
  } catch (err) {
    throw new RtnlError(op, netlinkErrno(err))
  }
}

/** A link as seen by {@link Rtnl.links}. */
export interface LinkInfo {
  index: number
  name: string
  master?: number
  up: boolean
  mac?: string
  /** The interface alias (ifalias), if set. */
  alias?: string
  /** The index of the link it is tied to (IFLA_LINK), when another: a veth end's peer, in the peer's namespace. */
  linkIndex?: number
}

/** rtnetlink operations in one network namespace. */
export class Rtnl {
  /** Callers share the socket (a veth teardown runs beside the network queue's work): dumps take it alone. */
  private turns = new NetlinkTurns(replyBound)

  /** @param reopen - opens a new socket in the same namespace, to replace one spent by a late answer. */
  private constructor(
    private sock: RtNetlinkSocket,
    private readonly reopen?: () => RtNetlinkSocket,
  ) {
    this.heedErrors(sock, this.turns)
  }

  /**
   * Unheard, the socket's 'error' event (a failed receive) would be thrown as an uncaught exception
   * and end the process: the socket is taken as spent instead (its turns end by their bound).
   */
  private heedErrors(sock: RtNetlinkSocket, turns: NetlinkTurns): void {
    sock.socket.on('error', (err: Error) => {
      debug('rtnetlink: socket error: %s', err)
      turns.markSpent(`socket error: ${err.message}`)
    })
  }

  /** Sends a request answered by one message (an ack, or one object). */
  private request<T>(op: string, send: () => Promise<T>): Promise<T> {
    return this.live().request(op, () => call(op, send))
  }

  /** Sends a dump request (answered by many messages). */
  private dump<T>(op: string, send: () => Promise<T>): Promise<T> {
    return this.live().dump(op, () => call(op, send))
  }

  /**
   * The socket's turns; a socket spent by a late answer is replaced first when it can be reopened. The
   * spent one is closed once its turns have ended (by their bound at the latest): the answers of
   * requests sent on it just before are queued on it, and closing it at once would lose them, their
   * requests reported as unanswered though the kernel applied them.
   */
  private live(): NetlinkTurns {
    if (this.turns.spent && this.reopen) {
      debug('rtnetlink: replacing a socket that stopped answering')
      this.retire(this.sock, this.turns)
      this.sock = this.reopen()
      this.turns = new NetlinkTurns(replyBound)
      this.heedErrors(this.sock, this.turns)
    }
    return this.turns
  }

  /** Spent sockets whose turns are still under way: closed when those end, or with this Rtnl. */
  private readonly retiring = new Set<RtNetlinkSocket>()

  private retire(sock: RtNetlinkSocket, turns: NetlinkTurns): void {
    this.retiring.add(sock)
    turns.whenDrained(() => {
      if (this.retiring.delete(sock)) sock.socket.close()
    })
  }

  /** Whether a late answer spent the socket and it cannot be reopened here (one of another namespace): its owner should open another. */
  get spent(): boolean {
    return this.turns.spent && !this.reopen
  }

  /** A socket in the calling thread's current namespace (the host, normally); replaced there if it stops answering. `opts`: how it sends (./netlink-fd). */
  static current(opts: NetlinkFdOptions = {}): Rtnl {
    const open = () => new RtNetlinkSocket(openNetlink(Protocol.ROUTE, opts))
    return new Rtnl(open(), open)
  }

  /** A socket bound to the namespace behind `netnsFd` (made while this thread is in it). `opts`: how it sends (./netlink-fd). */
  static inNetns(netnsFd: number, opts: NetlinkFdOptions = {}): Rtnl {
    return new Rtnl(withNetns(netnsFd, () => new RtNetlinkSocket(openNetlink(Protocol.ROUTE, opts))))
  }

  /** Over `fd`, an rtnetlink socket opened elsewhere (another namespace: ./netns-sockets); takes ownership of it. */
  static adopt(fd: number): Rtnl {
    return new Rtnl(new RtNetlinkSocket(netlinkOverFd(fd, Protocol.ROUTE)))
  }

  /** Closes the socket, and any spent one still draining (the answers it waits for are the closer's to lose). */
  close(): void {
    for (const sock of this.retiring) sock.socket.close()
    this.retiring.clear()
    this.sock.socket.close()
  }

  /** All links of the namespace. */
  async links(): Promise<LinkInfo[]> {
    return (await this.dump('list links', () => this.sock.getLinks())).map(toLinkInfo)
  }

  /** The link called `name`, or undefined (one GETLINK request, no dump). */
  async link(name: string): Promise<LinkInfo | undefined> {
    try {
      const [msg] = await this.request(`find link ${name}`, () => this.sock.getLink({}, { ifname: name }))
      return msg && toLinkInfo(msg)
    } catch (err) {
      if (err instanceof RtnlError && err.errno === 'ENODEV') return undefined
      throw err
    }
  }

  private async indexOf(name: string): Promise<number> {
    const l = await this.link(name)
    if (!l) throw new RtnlError(`find link ${name}`, 'ENODEV')
    return l.index
  }

  /** Creates a bridge (fails EEXIST if the name is taken), with `alias` as its ifalias when given. */
  async createBridge(name: string, alias?: string): Promise<number> {
    debug('rtnetlink: create bridge %s', name)
    const linkinfo = strAttr(IFLA_INFO_KIND, 'bridge')
    await this.request(`create bridge ${name}`, () => this.sock.newLink({}, { ifname: name, linkinfo }, { flags: FlagsNew.CREATE | FlagsNew.EXCL }))
    const index = await this.indexOf(name)
    // The kernel applies IFLA_IFALIAS only when changing a link, not when creating one.
    if (alias) await this.request(`set alias of ${name}`, () => this.sock.setLink({ index }, { ifalias: alias }))
    return index
  }

  /**
   * Creates a veth pair: `hostName` here, attached to bridge `masterIndex`,
   * down, and `peer.name` created directly inside the namespace
   * `peer.netnsFd` (so the container never sees a moment where its
   * interface is on the host). Set the end inside up first, then the host
   * end ({@link upBridgePort}): each end's carrier comes on once both are up,
   * and a host end born up would be up without carrier until then, which
   * the kernel's link watch turns into a qdisc deactivation waiting for an
   * expedited RCU grace period while holding the rtnl lock
   * (dev_deactivate_many), once per pair.
   *
   * Both ends are born with one queue each way, the number a veth uses
   * unless told otherwise: asked for nothing, the kernel allocates one per
   * possible CPU and cuts each end down to one once registered, and each
   * cut waits for an expedited RCU grace period while holding the rtnl lock
   * (veth_init_queues; about a millisecond per pair on a loaded 2-core
   * machine, which every other rtnetlink user waits behind too).
   */
  async createVeth(hostName: string, masterIndex: number, peer: { name: string; netnsFd: number; mac: Buffer }): Promise<void> {
    debug('rtnetlink: create veth %s (master %d) <-> %s', hostName, masterIndex, peer.name)
    const oneQueue = [u32Attr(IFLA_NUM_TX_QUEUES, 1), u32Attr(IFLA_NUM_RX_QUEUES, 1)]
    const peerInfo = Buffer.concat([Buffer.alloc(IFINFOMSG_LEN), strAttr(IFLA_IFNAME, peer.name), attr(IFLA_ADDRESS, peer.mac), u32Attr(IFLA_NET_NS_FD, peer.netnsFd), ...oneQueue])
    const linkinfo = Buffer.concat([strAttr(IFLA_INFO_KIND, 'veth'), attr(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peerInfo))])
    const attrs = { ifname: hostName, master: masterIndex, linkinfo, numTxQueues: 1, numRxQueues: 1 }
    await this.request(`create veth ${hostName}`, () => this.sock.newLink({}, attrs, { flags: FlagsNew.CREATE | FlagsNew.EXCL }))
  }

  /**
   * Sets the bridge port with index `index` up, in hairpin mode with `hairpin` (IFLA_BRPORT_MODE in the
   * bridge's port data, as `ip link set <name> type bridge_slave hairpin on`): one request, which sleeps
   * until the rtnl lock is free, where the sysfs file spins on it, holding its thread, while another holds it.
   */
  async upBridgePort(index: number, { hairpin }: { hairpin: boolean }): Promise<void> {
    const linkinfo = hairpin ? nested(IFLA_INFO_SLAVE_DATA, [attr(IFLA_BRPORT_MODE, Buffer.from([1]))]) : undefined
    await this.request(`set bridge port ${index} up`, () => this.sock.newLink({ index, change: { up: true }, flags: { up: true } }, linkinfo ? { linkinfo } : {}))
  }

  /** Sets a link up. */
  async up(index: number): Promise<void> {
    await this.request('set link up', () => this.sock.setLink({ index, change: { up: true }, flags: { up: true } }))
  }

  /** Gives a link the MAC `mac` and sets it up (one request). */
  async setMacAndUp(index: number, mac: Buffer): Promise<void> {
    await this.request('set link address and up', () => this.sock.setLink({ index, change: { up: true }, flags: { up: true } }, { address: mac }))
  }

  /** Sets the link called `name` up. */
  async upByName(name: string): Promise<number> {
    const index = await this.indexOf(name)
    await this.up(index)
    return index
  }

  /** Deletes a link by name; false when it did not exist. */
  async deleteLink(name: string): Promise<boolean> {
    debug('rtnetlink: delete link %s', name)
    const l = await this.link(name)
    if (!l) return false
    try {
      await this.request(`delete link ${name}`, () => this.sock.delLink({ index: l.index }))
    } catch (err) {
      // Gone in between (e.g. its namespace died and took the veth pair with it).
      if (err instanceof RtnlError && err.errno === 'ENODEV') return false
      throw err
    }
    return true
  }

  /** Adds `ip/prefix` to a link. */
  async addAddress(index: number, ip: string, prefixLen: number): Promise<void> {
    debug('rtnetlink: address %s/%d on ifindex %d', ip, prefixLen, index)
    const a = ipToBuffer(ip)
    await this.request(`add address ${ip}`, () => this.sock.newAddress({ family: AF_INET, prefixlen: prefixLen, index }, { local: a, address: a }, { flags: FlagsNew.CREATE | FlagsNew.EXCL }))
  }

  /** Removes `ip/prefix` from a link (the routes through it go when it was the link's last address). */
  async deleteAddress(index: number, ip: string, prefixLen: number): Promise<void> {
    const a = ipToBuffer(ip)
    await this.request(`delete address ${ip}`, () => this.sock.delAddress({ family: AF_INET, prefixlen: prefixLen, index }, { local: a, address: a }))
  }

  /** Adds a default route via `gateway` out of link `index`. */
  async addDefaultRoute(index: number, gateway: string): Promise<void> {
    const data = { family: AF_INET, dstLen: 0, table: RT_TABLE_MAIN, protocol: 'BOOT' as const, scope: 'UNIVERSE' as const, type: 'UNICAST' as const }
    await this.request(`add default route via ${gateway}`, () => this.sock.newRoute(data, { gateway: ipToBuffer(gateway), oif: index }, { flags: FlagsNew.CREATE | FlagsNew.EXCL }))
  }

  /** IPv4 routes (all tables but local) as CIDRs (destination/prefix), for picking subnets that do not collide. */
  async routedCidrs(): Promise<Cidr[]> {
    const routes = await this.dump('list routes', () => this.sock.getRoutes({ family: AF_INET }))
    const out: Cidr[] = []
    for (const r of routes) {
      // The local table only mirrors our own addresses; real destinations live elsewhere.
      if (r.data.family !== AF_INET || r.data.table === RT_TABLE_LOCAL || !r.attrs.dst || !r.data.dstLen) continue
      out.push({ network: r.attrs.dst.readUInt32BE(0) >>> 0, prefix: r.data.dstLen })
    }
    return out
  }
}

function toLinkInfo(m: rt.LinkMessage): LinkInfo {
  return { index: m.data.index ?? 0, name: m.attrs.ifname ?? '', master: m.attrs.master, up: !!m.data.flags?.up, mac: m.attrs.address ? formatMac(m.attrs.address) : undefined, alias: m.attrs.ifalias, linkIndex: m.attrs.link?.readUInt32LE(0) }
}

/** "aa:bb:..." from raw bytes. */
export function formatMac(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':')
}

/** Writes an IPv4 per-interface sysctl (e.g. route_localnet) through /proc; the interface must exist. */
export function setIfaceSysctl(ifname: string, key: string, value: string): void {
  fs.writeFileSync(`/proc/sys/net/ipv4/conf/${ifname}/${key}`, value)
}

/**
 * Through sysfs, which shows the host's namespace: the ifindex of the bridge the host link `ifname`
 * is a port of, and whether it is up; undefined when it is gone or on no bridge. No rtnetlink
 * request, so no wait behind the rtnl lock a dying namespace's cleanup holds.
 */
export function bridgePortOf(ifname: string): { bridgeIndex: number; up: boolean } | undefined {
  try {
    const bridgeIndex = Number(fs.readFileSync(`/sys/class/net/${ifname}/brport/bridge/ifindex`, 'utf8'))
    const flags = Number(fs.readFileSync(`/sys/class/net/${ifname}/flags`, 'utf8'))
    return { bridgeIndex, up: (flags & IFF_UP) !== 0 }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

const IFF_UP = 1

/**
 * Disables IPv6 on an interface of the calling thread's current network
 * namespace (run it inside {@link withNetns}); a no-op on kernels without IPv6.
 */
export function setIpv6Disabled(ifname: string): void {
  try {
    fs.writeFileSync(`/proc/sys/net/ipv6/conf/${ifname}/disable_ipv6`, '1')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}

/** Turns on IPv4 forwarding (needed for outbound NAT; left on afterwards, as Docker does). */
export function enableIpForward(): void {
  const file = '/proc/sys/net/ipv4/ip_forward'
  if (fs.readFileSync(file, 'utf8').trim() !== '1') fs.writeFileSync(file, '1')
}
