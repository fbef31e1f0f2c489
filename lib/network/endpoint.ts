/**
 * A container's attachment to a network: a veth pair whose host end joins
 * the bridge and whose other end is born inside the container's namespace
 * as eth0 (eth1... for extra networks), with its address and, for the
 * first network, the default route. The pair is made at the start
 * ({@link createEndpoint}), or ahead of it, addressed too, in a namespace
 * kept warm (./warm-endpoints) that the start only takes.
 *
 * @module
 */
import { InternalError } from '../errors'
import { macForIp } from './ipam'
import { setIpv6Disabled, type Rtnl } from './rtnl'
import { withNetns } from '../sys/netns'

/** The veth pair itself: where its two ends go. */
export interface PairPlan {
  bridgeIndex: number
  hostVeth: string
  /** The name of the end inside the container's namespace (eth0...). */
  ifname: string
  /** In the host's namespace: hairpin on the host end, and IPv6 off inside through /proc, which shows the host's sysctls (a private namespace's published ports are relays, no hairpin NAT). */
  hostTuning: boolean
  /** The namespace's IPv6 default is held off while the pair is made (../sys/netns createNetnsIpv6Off): its end inside is born without IPv6. */
  ipv6BornOff?: boolean
}

/** What {@link createEndpoint} needs to know. */
export interface EndpointPlan extends PairPlan {
  ip: string
  prefixLen: number
  gateway: string
  /** Whether this interface carries the default route (the first network does). */
  defaultRoute: boolean
}

/**
 * Creates and configures the pair; returns the index of its end inside.
 * `inner` is an rtnetlink socket bound to the container's namespace. On
 * failure the pair is deleted again (deleting one end deletes both).
 */
export async function createEndpoint(host: Rtnl, inner: Rtnl, netnsFd: number, plan: EndpointPlan): Promise<number> {
  // The host end looked up right behind its creation, on the same socket (handled in that order, one wait for
  // both): it names its peer's index inside (IFLA_LINK), so the end inside needs no look-up of its own.
  const created = host.createVeth(plan.hostVeth, plan.bridgeIndex, { name: plan.ifname, netnsFd, mac: macForIp(plan.ip) })
  const hostEnd = host.link(plan.hostVeth).catch(() => undefined)
  await created
  return deletingPairOnFailure(host, plan.hostVeth, async () => {
    // Asked again when the first answer came before the pair existed (a socket wrapped to delay its creation: tests).
    const link = (await hostEnd) ?? (await host.link(plan.hostVeth))
    // Never seen (a veth end always names its peer), but then the end inside is asked for by name.
    const index = link?.linkIndex ?? (await inner.link(plan.ifname))?.index
    if (!link || !index) throw new InternalError(`${plan.ifname} is missing from the namespace it was just made in`)
    // The end inside set up, addressed and routed beside the host end's setting up (another socket): one wait for
    // all. Sent first, the end inside is up first unless the two sends cross (see Rtnl.createVeth: that only costs time).
    const inside = addressInside(inner, index, plan)
    await allSettledOrFirstError([inside, host.upBridgePort(link.index, { hairpin: plan.hostTuning }), disableIpv6Inside(netnsFd, plan)])
    return index
  })
}

/**
 * Brings the end inside (`index`) up and adds its address and, for the first network, the default
 * route; or, given the address it has (`from`, up already), moves it to the plan's address: the old
 * address goes first (the default route with it, the link's last address), then the MAC becomes the
 * new address's. Sent together, answered together: one socket's messages are sent and handled by the
 * kernel in call order (up before the address, whose prefix route the gateway needs), so each still
 * sees the one before it done, and the caller waits one round trip for the rtnl lock instead of three.
 */
async function addressInside(inner: Rtnl, index: number, plan: EndpointPlan, from?: string): Promise<void> {
  const requests = from ? [inner.deleteAddress(index, from, plan.prefixLen), inner.setMacAndUp(index, macForIp(plan.ip))] : [inner.up(index)]
  requests.push(inner.addAddress(index, plan.ip, plan.prefixLen))
  if (plan.defaultRoute) requests.push(inner.addDefaultRoute(index, plan.gateway))
  await allSettledOrFirstError(requests)
}

/** Moves an addressed end inside (`index`, up) from address `from` to `plan.ip` ({@link addressInside}). On failure the pair is deleted. */
export async function readdressInside(host: Rtnl, inner: Rtnl, index: number, from: string, plan: EndpointPlan): Promise<void> {
  await deletingPairOnFailure(host, plan.hostVeth, () => addressInside(inner, index, plan, from))
}

/** Waits for every request (none is left running behind a failure), then rejects with the first failure in call order. */
async function allSettledOrFirstError(requests: Promise<void>[]): Promise<void> {
  const failed = (await Promise.allSettled(requests)).find((r) => r.status === 'rejected')
  if (failed) throw failed.reason
}

/**
 * IPv4-only networks: no IPv6 on the end inside, which also spares it a DAD failure from its own
 * neighbour solicitations coming back through the hairpin (set on the host end in the host's
 * namespace, see {@link PairPlan.hostTuning}: a container reaching its own published port through a host
 * address gets the DNATed packet back through its own bridge port, which a bridge refuses unless
 * told; Docker does the same). Through /proc, in the host's namespace only; nothing to do for an
 * end born without IPv6.
 */
async function disableIpv6Inside(netnsFd: number, plan: PairPlan): Promise<void> {
  if (plan.hostTuning && !plan.ipv6BornOff) withNetns(netnsFd, () => setIpv6Disabled(plan.ifname))
}

async function deletingPairOnFailure<T>(host: Rtnl, hostVeth: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    await host.deleteLink(hostVeth)
    throw err
  }
}
