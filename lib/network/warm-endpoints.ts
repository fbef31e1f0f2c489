/**
 * Endpoints made ahead of a start, one per network in use, as the spare
 * shim is kept warm: a fresh network namespace (lo up) with a veth pair
 * whose host end is already on the network's bridge and up, and whose other
 * end is eth0 inside, up, with the network's next address (leased ahead),
 * the MAC Docker derives from it and the default route. A start on that
 * network takes it and sends no rtnetlink request at all: making the
 * namespace, the pair and the addressing, which wait in the kernel behind
 * the cleanup of the previous container's namespace (the rtnl lock), is
 * done after the previous start instead of in the next one.
 *
 * The address is leased ({@link Leases}) under an owner naming this
 * process: another runtime on the same root sees
 * it taken, and collects it once this process no longer runs
 * (./warm-owner). The take hands the lease to the container;
 * a discarded endpoint gives it back.
 *
 * Nothing kept outlives its process: the namespace is held by an fd of
 * this process alone (close-on-exec), so it dies with the process, and the
 * pair with it. The host end is named as every veth of the runtime, so the
 * same checks and collections of leftovers see it; this process's
 * collection counts it as live ({@link WarmEndpoints.hostVeths}), another
 * process's on the same root may delete it, and a start then finds it off
 * the bridge and makes its own endpoint. A kept endpoint joins no
 * records, names or firewall rules: it carries nothing until a start takes
 * it, and a start takes only its own network's, still on that network's
 * bridge.
 *
 * @module
 */
import { closeQuietly } from '../sys/libc'
import { debug } from '../util/debug'
import { stamp } from '../util/start-trace'
import { claimAddress } from './address-claim'
import { createEndpoint, readdressInside, type EndpointPlan } from './endpoint'
import { parseCidr, parseIp } from './ipam'
import { ipKey, type Leases } from './leases'
import type { NetNames } from './names'
import type { NetworkPlace } from './place'
import { bridgePortOf, LOOPBACK_IFINDEX, type Rtnl } from './rtnl'
import type { NetworkRecord } from './store'
import { removeVeth } from './veth-removal'
import { warmEndpointOwner, warmLeaseOwner } from './warm-owner'

/** A namespace made ahead for a container on one network, with its pair. */
export interface WarmEndpoint {
  /** The network whose bridge the host end is on. */
  networkId: string
  /** The namespace (an fd the taker owns from then on). */
  netnsFd: number
  /** An rtnetlink socket inside it (the taker closes it). */
  inner: Rtnl
  /** The host end. */
  hostVeth: string
  /** The name of the end inside. */
  ifname: string
  /** Its index inside. */
  innerIndex: number
  /** Its address, leased to {@link leaseOwner} until a start takes it. */
  ip: string
  /** Who holds its address's lease while it is kept: the pool's owner and its host veth (./warm-owner). */
  leaseOwner: string
}

/** What the pool works with: the sockets and names of its service. */
export interface WarmEndpointsOptions {
  /** rtnetlink of the bridges' namespace. */
  host: () => Rtnl
  /** Where containers' namespaces are made and reached. */
  place: NetworkPlace
  /** The runtime's object names. */
  names: NetNames
  /** The root's claims: an endpoint's address is leased while it is kept. */
  leases: Leases
  /** Addresses of the network's containers, as recorded (address -> container name). */
  addressesInUse: (networkId: string) => Map<string, string>
}

/** The endpoints kept warm, by network id. Callers serialise fill, take and drop (the service's queue). */
export class WarmEndpoints {
  private readonly kept = new Map<string, WarmEndpoint>()
  /** Host ends of pairs being made (not kept yet). */
  private readonly making = new Set<string>()
  private generation = 0
  /** The process's part of who holds the kept endpoints' addresses (each lease also names its endpoint's host veth). */
  private readonly owner = warmLeaseOwner()

  /**
   * Bumped by {@link closeAll}: a fill asked for before (and still queued) makes nothing, and an
   * endpoint whose making began before is not kept.
   */
  get epoch(): number {
    return this.generation
  }

  /** @param opts - the service's sockets, place and names. */
  constructor(private readonly opts: WarmEndpointsOptions) {}

  /**
   * Takes the endpoint kept for a network, whose bridge is `bridgeIndex` now, for container `taker`,
   * to whom its address's lease passes; undefined when none is kept, or when its host end is no
   * longer on that bridge (the bridge was deleted or made again, by another process or an admin), or
   * its lease was lost: that one is discarded and the start makes its own.
   */
  async take(networkId: string, bridgeIndex: number, taker: string): Promise<WarmEndpoint | undefined> {
    const ep = this.kept.get(networkId)
    if (!ep) return undefined
    this.kept.delete(networkId)
    const port = await this.bridgePortOf(ep.hostVeth).catch(() => undefined)
    if (port?.bridgeIndex === bridgeIndex && port.up && this.opts.leases.transfer(ipKey(networkId, ep.ip), ep.leaseOwner, taker)) return ep
    debug('warm endpoint %s left bridge %d or lost its lease: discarded', ep.hostVeth, bridgeIndex)
    // Not awaited: the start makes its own pair under another name meanwhile.
    void this.discard(ep)
    return undefined
  }

  /** Discards the endpoint kept for a network when it holds `ip` (a container asks for that address). */
  async yieldAddress(networkId: string, ip: string): Promise<void> {
    if (this.kept.get(networkId)?.ip === ip) await this.drop(networkId)
  }

  /** The address of the endpoint kept for a network, if one is. */
  addressOf(networkId: string): string | undefined {
    return this.kept.get(networkId)?.ip
  }

  /**
   * Moves the endpoint kept for `net` to the network's lowest free address when a lower one than its
   * own has come free (a container left: the service calls it then, off any start's path): the next
   * start gets the address Docker would give it. The
   * new address is leased before the move, the old one given back after it; a failed move discards
   * the endpoint.
   */
  async lower(net: NetworkRecord): Promise<void> {
    const ep = this.kept.get(net.id)
    if (!ep) return
    const { leases } = this.opts
    const ip = claimAddress(leases, net, ep.leaseOwner, undefined, this.opts.addressesInUse(net.id))
    if (parseIp(ip) >= parseIp(ep.ip)) return
    stamp('net: warm address moved')
    try {
      await readdressInside(this.opts.host(), ep.inner, ep.innerIndex, ep.ip, planFor(net, ep.hostVeth, ip, 0, this.opts.place.isHost))
    } catch (err) {
      debug('warm endpoint %s not moved to %s: %s', ep.hostVeth, ip, err)
      leases.release(ipKey(net.id, ip), ep.leaseOwner)
      if (this.kept.get(net.id) === ep) await this.drop(net.id)
      return
    }
    // Closed meanwhile (closeAll runs outside the callers' queue): it gave the old address back, not this one.
    if (this.kept.get(net.id) !== ep) return leases.release(ipKey(net.id, ip), ep.leaseOwner)
    leases.release(ipKey(net.id, ep.ip), ep.leaseOwner)
    ep.ip = ip
  }

  /** The bridge the host end is on, and whether it is up: from sysfs in the host's namespace (no rtnetlink wait), else asked. */
  private async bridgePortOf(hostVeth: string): Promise<{ bridgeIndex: number; up: boolean } | undefined> {
    if (this.opts.place.isHost) return bridgePortOf(hostVeth)
    const link = await this.opts.host().link(hostVeth).catch(() => undefined)
    return link?.master === undefined ? undefined : { bridgeIndex: link.master, up: link.up }
  }

  /** Makes an endpoint for the network if none is kept. Never rejects: a failure only leaves the next start to make its own. */
  async fill(net: NetworkRecord, bridgeIndex: number, epoch = this.generation): Promise<void> {
    if (this.kept.has(net.id) || epoch !== this.generation) return
    const generation = this.generation
    let ep: WarmEndpoint
    try {
      ep = await this.make(net, bridgeIndex, generation)
    } catch (err) {
      debug('warm endpoint for network %s not made: %s', net.id.slice(0, 12), err)
      return
    }
    // Closed meanwhile: the host socket is closed too, and host() would open one nobody closes; closing the
    // namespace takes the pair with it (as closeAll does for the kept ones).
    if (generation !== this.generation) this.close(ep)
    else if (!this.kept.has(net.id)) this.kept.set(net.id, ep)
    else await this.discard(ep)
  }

  /** The host ends kept or being made now: live objects for this process's collection of leftovers. */
  hostVeths(): string[] {
    return [...[...this.kept.values()].map((ep) => ep.hostVeth), ...this.making]
  }

  /** Discards the endpoint kept for a network (removed), once its pair is gone. */
  async drop(networkId: string): Promise<void> {
    const ep = this.kept.get(networkId)
    if (!ep) return
    this.kept.delete(networkId)
    await this.discard(ep)
  }

  /** Discards every kept endpoint, once their pairs are gone. */
  async dropAll(): Promise<void> {
    await Promise.all([...this.kept.keys()].map((id) => this.drop(id)))
  }

  /**
   * Closes every kept endpoint's namespace and socket now, and keeps none that is being made: the
   * kernel removes their pairs by itself (for a closing service, whose sockets close next).
   */
  closeAll(): void {
    this.generation++
    for (const ep of this.kept.values()) this.close(ep)
    this.kept.clear()
  }

  /** Makes an endpoint; gives up, before it touches the host socket, once closeAll ran after `generation`. */
  private async make(net: NetworkRecord, bridgeIndex: number, generation: number): Promise<WarmEndpoint> {
    const { place, names, leases } = this.opts
    const netnsFd = place.newContainerNetns()
    let inner: Rtnl | undefined
    let ip: string | undefined
    let leaseOwner = this.owner
    try {
      inner = await place.inside(netnsFd)
      await inner.up(LOOPBACK_IFINDEX)
      if (generation !== this.generation) throw new Error('the network service closed while it was made')
      // The lease names the host veth before it exists: a collector after this process's death waits for it to go.
      const hostVeth = names.newVeth()
      leaseOwner = warmEndpointOwner(this.owner, hostVeth)
      ip = claimAddress(leases, net, leaseOwner, undefined, this.opts.addressesInUse(net.id))
      const plan = planFor(net, hostVeth, ip, bridgeIndex, place.isHost)
      this.making.add(plan.hostVeth)
      try {
        const innerIndex = await createEndpoint(this.opts.host(), inner, netnsFd, plan)
        return { networkId: net.id, netnsFd, inner, hostVeth: plan.hostVeth, ifname: plan.ifname, innerIndex, ip, leaseOwner }
      } finally {
        this.making.delete(plan.hostVeth)
      }
    } catch (err) {
      // Closing the namespace takes the pair with it.
      inner?.close()
      closeQuietly(netnsFd)
      if (ip) leases.release(ipKey(net.id, ip), leaseOwner)
      throw err
    }
  }

  /** Removes the endpoint, then gives its address back: not to a container whose MAC the old pair still has on the bridge. */
  private async discard(ep: WarmEndpoint): Promise<void> {
    closeEndpoint(ep)
    await removeVeth(this.opts.host(), ep.hostVeth).catch((err) => debug('removing warm veth %s failed: %s', ep.hostVeth, err))
    this.release(ep)
  }

  /** Closes the endpoint's namespace (the kernel takes its pair away) and gives its address back. */
  private close(ep: WarmEndpoint): void {
    closeEndpoint(ep)
    this.release(ep)
  }

  /** Gives the endpoint's address back (a no-op once a taker holds it). */
  private release(ep: WarmEndpoint): void {
    this.opts.leases.release(ipKey(ep.networkId, ep.ip), ep.leaseOwner)
  }
}

/** A warm endpoint's plan: eth0, with the route, at `ip` on `net`. */
function planFor(net: NetworkRecord, hostVeth: string, ip: string, bridgeIndex: number, hostTuning: boolean): EndpointPlan {
  return { bridgeIndex, hostVeth, ifname: 'eth0', hostTuning, ip, prefixLen: parseCidr(net.subnet).prefix, gateway: net.gateway, defaultRoute: true }
}

function closeEndpoint(ep: WarmEndpoint): void {
  ep.inner.close()
  closeQuietly(ep.netnsFd)
}
