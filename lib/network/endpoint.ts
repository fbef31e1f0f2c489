/**
 * A container's attachment to a network: a veth pair whose host end joins
 * the bridge and whose other end is born inside the container's namespace
 * as eth0 (eth1... for extra networks), with its address and, for the
 * first network, the default route.
 *
 * @module
 */
import { macForIp } from './ipam'
import { setBridgePortFlag, setIpv6Disabled, type Rtnl } from './rtnl'
import { withNetns } from '../sys/netns'

/** What {@link createEndpoint} needs to know. */
export interface EndpointPlan {
  bridgeIndex: number
  hostVeth: string
  ifname: string
  ip: string
  prefixLen: number
  gateway: string
  /** Whether this interface carries the default route (the first network does). */
  defaultRoute: boolean
  /** In the host's namespace: hairpin and IPv6 off through /sys and /proc, which show the host's (a private namespace's published ports are relays, no hairpin NAT). */
  hostTuning: boolean
}

/**
 * Creates and configures the pair. `inner` is an rtnetlink socket bound to
 * the container's namespace. On failure the pair is deleted again
 * (deleting one end deletes both).
 */
export async function createEndpoint(host: Rtnl, inner: Rtnl, netnsFd: number, plan: EndpointPlan): Promise<void> {
  await host.createVeth(plan.hostVeth, plan.bridgeIndex, { name: plan.ifname, netnsFd, mac: macForIp(plan.ip) })
  try {
    // Hairpin: a container reaching its own published port through a host address gets the DNATed
    // packet back through its own bridge port, which a bridge refuses unless told (Docker does the same).
    // IPv4-only networks: no IPv6 on the interface, which also spares it a DAD failure from its own
    // neighbour solicitations coming back through the hairpin.
    if (plan.hostTuning) {
      setBridgePortFlag(plan.hostVeth, 'hairpin_mode', '1')
      withNetns(netnsFd, () => setIpv6Disabled(plan.ifname))
    }
    const index = await inner.upByName(plan.ifname)
    await inner.addAddress(index, plan.ip, plan.prefixLen)
    if (plan.defaultRoute) await inner.addDefaultRoute(index, plan.gateway)
  } catch (err) {
    await host.deleteLink(plan.hostVeth)
    throw err
  }
}
