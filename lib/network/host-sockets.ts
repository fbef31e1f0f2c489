/**
 * The two netlink sockets the network layer uses on the host side
 * (rtnetlink for links, nf_tables for rules), opened lazily and always
 * from the host namespace: the thread is never elsewhere across an await.
 *
 * @module
 */
import { Firewall } from './nftables'
import type { NetNames } from './names'
import { Rtnl } from './rtnl'

/** Lazily opened host-side netlink sockets of one runtime. */
export class HostSockets {
  private rtnl?: Rtnl
  private firewall?: Firewall

  /** @param names - the runtime's object names (its nf_tables table and bridge prefix). */
  constructor(private readonly names: NetNames) {}

  /** rtnetlink in the host namespace. */
  get host(): Rtnl {
    return (this.rtnl ??= Rtnl.current())
  }

  /** The runtime's nf_tables table. */
  get fw(): Firewall {
    return (this.firewall ??= new Firewall(this.names.table, this.names.bridgePrefix, this.names.owner))
  }

  /** Closes both sockets (they are reopened on next use). */
  close(): void {
    this.rtnl?.close()
    this.firewall?.close()
    this.rtnl = this.firewall = undefined
  }
}
