/**
 * The network service of a rootless runtime: the usual network code
 * (bridges, veths, addresses, names, nf_tables isolation) driven in the
 * runtime's own network namespace, which the keeper holds inside its user
 * namespace, through netlink sockets the keeper opens there and hands over its channel. A
 * non-root caller can make no bridge or rule in the host's namespaces, and
 * needs none: nothing of a rootless runtime's is on the host, and its
 * subnets are its own. Containers' namespaces are made by the keeper too,
 * so its sockets may move a veth end into them; published ports are relays
 * into it; outbound traffic leaves through pasta or slirp4netns attached to
 * it (egress.ts), or there is none and one warning says why. Without a
 * subordinate range there is no such namespace: networks are EUNSUPPORTED
 * saying so.
 *
 * @module
 */
import { adoptNetnsNetlink, type NetnsNetlink } from '../network/netns-sockets'
import type { NetnsMadeAhead, NetworkPlace } from '../network/place'
import { relayForwarding } from '../network/port-forwarding'
import type { Rtnl } from '../network/rtnl'
import { NetworkService, type NetworkServiceOptions } from '../network/service'
import { debug } from '../util/debug'
import { attachEgress, warnNoEgress, type EgressAttached } from './egress'
import type { RootlessIdentity } from './identity'

/** What of the runtime's identity the service needs: its keeper's network namespaces. */
export type RootlessNetworkHost = Pick<RootlessIdentity, 'networkNamespace' | 'newContainerNetns' | 'netlinkSockets'>

/** The keeper's network namespace as the place of a runtime's networks, with its egress helper. */
class KeeperPlace implements NetworkPlace {
  readonly isHost = false
  /** The egress of the namespace at that path (a replaced keeper has a new one): attached, or refused (warned). */
  private egress: { netnsPath: string; attached?: EgressAttached } | undefined

  constructor(private readonly ids: RootlessNetworkHost) {}

  async open(): Promise<NetnsNetlink> {
    const ns = this.ids.networkNamespace('use networks')
    if (this.egress?.netnsPath !== ns.netnsPath) {
      this.stopEgress()
      const r = await attachEgress({ netns: ns.netnsPath, userns: ns.usernsPath })
      this.egress = { netnsPath: ns.netnsPath, ...(r.ok ? { attached: r } : {}) }
      if (r.ok) debug('egress of %s: %s (pid %d)', ns.netnsPath, r.helper, r.pid)
      else warnNoEgress(r.reason)
    }
    return adoptNetnsNetlink(...this.ids.netlinkSockets())
  }

  newContainerNetns(): number {
    return this.ids.newContainerNetns()
  }

  /** The keeper makes it (a request on its socket): nothing of it waits on this thread beyond that. */
  newContainerNetnsOffPath(): Promise<NetnsMadeAhead> {
    return Promise.resolve({ fd: this.newContainerNetns() })
  }

  inside(netnsFd: number): Promise<Rtnl> {
    // The keeper, root of the namespace's owner, joins it for the sockets and comes back.
    const { rtnl, nfnl } = adoptNetnsNetlink(...this.ids.netlinkSockets(netnsFd))
    nfnl.close()
    return Promise.resolve(rtnl)
  }

  /** No host rule reaches the namespace: Node binds each host port, a relay forwards into it. */
  forwarding() {
    return relayForwarding(() => this.ids.networkNamespace('publish ports').netnsPath)
  }

  bridgesNetns(): string {
    return this.ids.networkNamespace('expose host ports').netnsPath
  }

  /** Ends the egress helper (it would hold the namespace open otherwise). */
  stopEgress(): void {
    this.egress?.attached?.stop()
    this.egress = undefined
  }
}

/** {@link NetworkService} in the keeper's network namespace. */
export class RootlessNetworkService extends NetworkService {
  private readonly keeperPlace: KeeperPlace

  /** @param opts - as NetworkService's (without a place), and the runtime's identity, whose keeper holds the namespace. */
  constructor(opts: Omit<NetworkServiceOptions, 'place'> & { ids: RootlessNetworkHost }) {
    const place = new KeeperPlace(opts.ids)
    super({ ...opts, place })
    this.keeperPlace = place
  }

  /** Nothing recorded: nothing to collect, and no keeper started for it. */
  override gc(isAlive: (containerId: string) => boolean): Promise<void> {
    return this.hasRecords ? super.gc(isAlive) : Promise.resolve()
  }

  /** Nothing recorded: nothing to remove (the namespace ends with the keeper). */
  override destroy(): Promise<void> {
    return this.hasRecords ? super.destroy() : Promise.resolve()
  }

  /** Closes the sockets and ends the egress helper (Runtime.close()). */
  override async close(): Promise<void> {
    await super.close()
    this.keeperPlace.stopEgress()
  }
}
