/**
 * The two netlink sockets the network layer uses on the side of the
 * runtime's bridges (rtnetlink for links, nf_tables for rules): the host's,
 * opened lazily from the host namespace (the thread is never elsewhere
 * across an await), or a private namespace's ({@link NetworkPlace}), opened
 * by {@link HostSockets.ready} before each operation.
 *
 * @module
 */
import { InternalError } from '../errors'
import { backgroundAsyncCalls } from '../sys/koffi-async'
import { Firewall } from './nftables'
import type { NetNames } from './names'
import type { NfNetlink } from './nfnetlink'
import { hostPlace, type NetworkPlace } from './place'
import { Rtnl } from './rtnl'

/** Lazily opened netlink sockets of one runtime, in the namespace of its bridges. */
export class HostSockets {
  private rtnl?: Rtnl
  private offPathRtnl?: Rtnl
  private firewall?: Firewall

  /**
   * @param names - the runtime's object names (its nf_tables table and bridge prefix).
   * @param place - the namespace of the runtime's bridges (default: the host's).
   */
  constructor(
    private readonly names: NetNames,
    readonly place: NetworkPlace = hostPlace,
  ) {}

  /** Opens the sockets of a private namespace (asynchronous there), again when they stopped answering; the host's open on first use. */
  async ready(): Promise<void> {
    if (this.place.isHost || (this.rtnl && !this.rtnl.spent)) return
    // One that stopped answering (rtnl.ts: a late answer) cannot be reopened from here: both are replaced.
    this.close()
    const { rtnl, nfnl } = await this.place.open()
    this.rtnl = rtnl
    this.firewall = this.newFirewall(nfnl)
  }

  /** rtnetlink in the bridges' namespace. */
  get host(): Rtnl {
    return (this.rtnl ??= this.hostOnly(() => Rtnl.current()))
  }

  /**
   * rtnetlink in the bridges' namespace for work off any start's path (warm endpoints): in the host's,
   * a socket of its own that sends on a libuv worker (./netlink-fd; from the main thread only, see
   * ../sys/koffi-async backgroundAsyncCalls), so that its requests, waiting in
   * the kernel for the rtnl lock, do not hold the event loop a start runs on; elsewhere {@link host}.
   */
  get offPathHost(): Rtnl {
    if (!this.place.isHost) return this.host
    return (this.offPathRtnl ??= Rtnl.current({ onWorker: backgroundAsyncCalls }))
  }

  /** The runtime's nf_tables table. */
  get fw(): Firewall {
    return (this.firewall ??= this.hostOnly(() => this.newFirewall()))
  }

  /** Closes the sockets (they are reopened on next use). */
  close(): void {
    this.rtnl?.close()
    this.offPathRtnl?.close()
    this.firewall?.close()
    this.rtnl = this.offPathRtnl = this.firewall = undefined
  }

  private newFirewall(nfnl?: NfNetlink): Firewall {
    return new Firewall(this.names.table, this.names.bridgePrefix, this.names.owner, nfnl)
  }

  /** Opening on use is for the host's namespace; a private one's sockets come from ready(). */
  private hostOnly<T>(open: () => T): T {
    if (!this.place.isHost) throw new InternalError("a network operation used the private namespace's sockets before ready()")
    return open()
  }
}
