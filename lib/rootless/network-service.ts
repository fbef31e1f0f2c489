/**
 * The network service of a rootless runtime: the usual network code
 * (bridges, veths, addresses, names, nf_tables isolation) driven in the
 * runtime's own network namespace, which the keeper holds inside its user
 * namespace, through netlink sockets opened there (openNetnsNetlink). A
 * non-root caller can make no bridge or rule in the host's namespaces, and
 * needs none: nothing of a rootless runtime's is on the host, and its
 * subnets are its own. Containers' namespaces are made by the keeper too,
 * so its sockets may move a veth end into them. Without a subordinate range
 * there is no such namespace: networks are EUNSUPPORTED saying so.
 *
 * @module
 */
import { openNetnsNetlink } from '../network/netns-sockets'
import type { NetworkPlace } from '../network/place'
import { relayForwarding } from '../network/port-forwarding'
import { NetworkService, type NetworkServiceOptions } from '../network/service'
import type { RootlessIdentity } from './identity'

/** What of the runtime's identity the service needs: its keeper's network namespaces. */
export type RootlessNetworkHost = Pick<RootlessIdentity, 'networkNamespace' | 'newContainerNetns'>

/** The keeper's network namespace as the place of a runtime's networks. */
function keeperPlace(ids: RootlessNetworkHost): NetworkPlace {
  return {
    isHost: false,
    open: () => openNetnsNetlink(ids.networkNamespace('use networks').netnsPath),
    newContainerNetns: () => ids.newContainerNetns(),
    async inside(netnsFd) {
      // This process's fd, by path: the helper joins the namespace's owner (the keeper's user namespace) and then it.
      const { rtnl, nfnl } = await openNetnsNetlink(`/proc/${process.pid}/fd/${netnsFd}`)
      nfnl.close()
      return rtnl
    },
    // No host rule reaches the namespace: Node binds each host port, a relay forwards into it.
    forwarding: () => relayForwarding(() => ids.networkNamespace('publish ports').netnsPath),
  }
}

/** {@link NetworkService} in the keeper's network namespace. */
export class RootlessNetworkService extends NetworkService {
  /** @param opts - as NetworkService's (without a place), and the runtime's identity, whose keeper holds the namespace. */
  constructor(opts: Omit<NetworkServiceOptions, 'place'> & { ids: RootlessNetworkHost }) {
    super({ ...opts, place: keeperPlace(opts.ids) })
  }

  /** Nothing recorded: nothing to collect, and no keeper started for it. */
  override gc(isAlive: (containerId: string) => boolean): Promise<void> {
    return this.hasRecords ? super.gc(isAlive) : Promise.resolve()
  }

  /** Nothing recorded: nothing to remove (the namespace ends with the keeper). */
  override destroy(): Promise<void> {
    return this.hasRecords ? super.destroy() : Promise.resolve()
  }
}
