/**
 * Endpoints made ahead of a start, two per network in use (the next start
 * takes one made a cycle earlier while the other is being made), as the
 * spare shim is kept warm: a fresh network namespace (lo up) with a veth pair
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
  /** Its address, leased to the pool (./warm-owner, naming the host end) until a start takes it. */
  ip: string
}

/** What the pool works with: the sockets and names of its service. */
export interface WarmEndpointsOptions {
  /** rtnetlink of the bridges' namespace, for work off any start's path (./host-sockets offPathHost). */
  host: () => Rtnl
  /** Where containers' namespaces are made and reached. */
  place: NetworkPlace
  /** The runtime's object names. */
  names: NetNames
  /** The root's claims: an endpoint's address is leased while it is kept. */
  leases: Leases
  /** Addresses of the network's containers, as recorded (address -> container name). */
  addressesInUse: (networkId: string) => Map<string, string>
  /**
   * Called when an endpoint is kept that was being made while {@link WarmEndpoints.lower} ran for its
   * network: its address, leased before, may be above one freed meanwhile. The caller lowers it, in turn.
   */
  landedAfterLower: (net: NetworkRecord) => void
}

/**
 * How many endpoints are kept per network: a start takes one made a cycle earlier while the next is
 * being made beside it, so it never waits for a refill (which waits in the kernel behind the cleanup
 * of the namespace of the container before).
 */
export const WARM_DEPTH = 2

/**
 * The endpoints kept warm, by network id, lowest address first. Callers serialise take, lower, drop
 * and the beginning of a fill (the service's queue); a fill then runs beside the queue's work.
 */
export class WarmEndpoints {
  private readonly kept = new Map<string, WarmEndpoint[]>()
  /** Host ends of pairs being made (not kept yet). */
  private readonly making = new Set<string>()
  /** Fills under way, by network id. */
  private readonly filling = new Map<string, Promise<void>>()
  /** The endpoint a fill under way is making (and keeping) now, by network id. */
  private readonly nextMade = new Map<string, Promise<boolean>>()
  /** Networks being dropped: a fill under way for one makes no further endpoint. */
  private readonly dropping = new Set<string>()
  /** Networks lowered while a fill was under way: its next endpoint kept may be above a freed address. */
  private readonly loweredWhileFilling = new Set<string>()
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
   * Takes the lowest-addressed endpoint kept for a network, whose bridge is `bridgeIndex` now, for
   * container `taker`, to whom its address's lease passes; with none kept, the one a fill is making
   * (it holds the address Docker would give: a start making its own would get the next one);
   * undefined when there is none. One whose host end is no longer on that bridge (the bridge was
   * deleted or made again, by another process or an admin), or whose lease was lost, is discarded and
   * the next one tried.
   */
  async take(networkId: string, bridgeIndex: number, taker: string): Promise<WarmEndpoint | undefined> {
    if (!this.kept.get(networkId)?.length) await this.nextMade.get(networkId)
    const eps = this.kept.get(networkId) ?? []
    for (let ep = eps.shift(); ep; ep = eps.shift()) {
      const port = await this.bridgePortOf(ep.hostVeth).catch(() => undefined)
      if (port?.bridgeIndex === bridgeIndex && port.up && this.opts.leases.transfer(ipKey(networkId, ep.ip), this.leaseOwnerOf(ep), taker)) return ep
      debug('warm endpoint %s left bridge %d or lost its lease: discarded', ep.hostVeth, bridgeIndex)
      // Not awaited: the start goes on with the next one, or makes its own pair under another name.
      void this.discard(ep)
    }
    return undefined
  }

  /** Discards the endpoint kept for a network that holds `ip` (a container asks for that address), if one does. */
  async yieldAddress(networkId: string, ip: string): Promise<void> {
    const ep = this.kept.get(networkId)?.find((e) => e.ip === ip)
    if (ep && this.unkeep(ep)) await this.discard(ep)
  }

  /** The lowest address of the endpoints kept for a network, if one is kept. */
  addressOf(networkId: string): string | undefined {
    return this.kept.get(networkId)?.[0]?.ip
  }

  /** Resolves once no fill is under way for a network: the addresses it leases are then those of kept endpoints. */
  async settled(networkId: string): Promise<void> {
    await this.filling.get(networkId)
  }

  /**
   * Moves the endpoints kept for `net` down to the network's lowest free addresses, the highest first,
   * while a lower one than its own is free (a container left: the service calls it then, off any
   * start's path): the next start gets the address Docker would give it. The new address is leased
   * before a move, the old one given back after it; a failed move discards the endpoint.
   */
  async lower(net: NetworkRecord): Promise<void> {
    // The endpoint being made holds the address leased before: once kept, it is lowered in its turn.
    if (this.filling.has(net.id)) this.loweredWhileFilling.add(net.id)
    for (let ep = this.highest(net.id); ep && (await this.lowerOne(net, ep)); ep = this.highest(net.id));
  }

  /** The highest-addressed endpoint kept for a network. */
  private highest(networkId: string): WarmEndpoint | undefined {
    return this.kept.get(networkId)?.at(-1)
  }

  /** Moves `ep` to the lowest free address if that one is lower than its own; whether it moved. */
  private async lowerOne(net: NetworkRecord, ep: WarmEndpoint): Promise<boolean> {
    const { leases } = this.opts
    const owner = this.leaseOwnerOf(ep)
    const ip = claimAddress(leases, net, owner, undefined, this.opts.addressesInUse(net.id))
    if (parseIp(ip) >= parseIp(ep.ip)) {
      if (ip !== ep.ip) leases.release(ipKey(net.id, ip), owner)
      return false
    }
    stamp('net: warm address moved')
    try {
      await readdressInside(this.opts.host(), ep.inner, ep.innerIndex, ep.ip, planFor(net, ep.hostVeth, ip, 0, this.opts.place.isHost))
    } catch (err) {
      debug('warm endpoint %s not moved to %s: %s', ep.hostVeth, ip, err)
      leases.release(ipKey(net.id, ip), owner)
      if (this.unkeep(ep)) await this.discard(ep)
      return false
    }
    // Closed or given up meanwhile (closeAll runs outside the callers' queue): it gave the old address back, not this one.
    if (!this.kept.get(net.id)?.includes(ep)) {
      leases.release(ipKey(net.id, ip), owner)
      return false
    }
    leases.release(ipKey(net.id, ep.ip), owner)
    ep.ip = ip
    sortByAddress(this.kept.get(net.id)!)
    return true
  }

  /** The bridge the host end is on, and whether it is up: from sysfs in the host's namespace (no rtnetlink wait), else asked. */
  private async bridgePortOf(hostVeth: string): Promise<{ bridgeIndex: number; up: boolean } | undefined> {
    if (this.opts.place.isHost) return bridgePortOf(hostVeth)
    const link = await this.opts.host().link(hostVeth).catch(() => undefined)
    return link?.master === undefined ? undefined : { bridgeIndex: link.master, up: link.up }
  }

  /**
   * Makes endpoints for the network, one after the other, until {@link WARM_DEPTH} are kept; the fill
   * under way, if there is one, else. Never rejects: a failure only leaves the next start to make its own.
   */
  fill(net: NetworkRecord, bridgeIndex: number, epoch = this.generation): Promise<void> {
    const under = this.filling.get(net.id)
    if (under) return under
    const filled = this.fillUp(net, bridgeIndex, epoch).finally(() => {
      this.filling.delete(net.id)
      // Nothing more lands: a lower then sees every endpoint kept.
      this.loweredWhileFilling.delete(net.id)
    })
    this.filling.set(net.id, filled)
    return filled
  }

  private async fillUp(net: NetworkRecord, bridgeIndex: number, epoch: number): Promise<void> {
    while ((this.kept.get(net.id)?.length ?? 0) < WARM_DEPTH && epoch === this.generation && !this.dropping.has(net.id)) {
      const next = this.makeAndKeep(net, bridgeIndex, epoch)
      this.nextMade.set(net.id, next)
      const more = await next
      if (this.nextMade.get(net.id) === next) this.nextMade.delete(net.id)
      if (!more) return
    }
  }

  /** Makes an endpoint and keeps it; whether the fill goes on. */
  private async makeAndKeep(net: NetworkRecord, bridgeIndex: number, epoch: number): Promise<boolean> {
    let ep: WarmEndpoint
    try {
      ep = await this.make(net, bridgeIndex, epoch)
    } catch (err) {
      debug('warm endpoint for network %s not made: %s', net.id.slice(0, 12), err)
      return false
    }
    // Closed meanwhile, or its network dropped: the close waits for this fill before it closes the host socket.
    if (epoch !== this.generation || this.dropping.has(net.id)) await this.discard(ep)
    else {
      const eps = this.kept.get(net.id) ?? []
      eps.push(ep)
      this.kept.set(net.id, sortByAddress(eps))
      if (this.loweredWhileFilling.delete(net.id)) this.opts.landedAfterLower(net)
      return true
    }
    return false
  }

  /** The host ends kept or being made now: live objects for this process's collection of leftovers. */
  hostVeths(): string[] {
    return [...[...this.kept.values()].flat().map((ep) => ep.hostVeth), ...this.making]
  }

  /** Discards the endpoints kept for a network (removed), once the fill under way for it has ended and their pairs are gone. */
  async drop(networkId: string): Promise<void> {
    this.dropping.add(networkId)
    try {
      await this.filling.get(networkId)
      const eps = this.kept.get(networkId) ?? []
      this.kept.delete(networkId)
      await Promise.all(eps.map((ep) => this.discard(ep)))
    } finally {
      this.dropping.delete(networkId)
    }
  }

  /** Discards every kept endpoint, once their pairs are gone. */
  async dropAll(): Promise<void> {
    await Promise.all([...new Set([...this.kept.keys(), ...this.filling.keys()])].map((id) => this.drop(id)))
  }

  /**
   * Discards every kept endpoint and keeps none that is being made (for a closing service, whose
   * sockets close once this resolved): resolves once their pairs are gone and their addresses given
   * back, as {@link discard} does, so that no other runtime on the root takes an address whose old
   * pair, with its MAC, is still on the bridge; and once every fill under way has ended (one asked for
   * before keeps nothing and gives its address back).
   */
  async closeAll(): Promise<void> {
    this.generation++
    const eps = [...this.kept.values()].flat()
    this.kept.clear()
    await Promise.all([...eps.map((ep) => this.discard(ep)), ...this.filling.values()])
  }

  /** Makes an endpoint; gives up, before it touches the host socket, once closeAll ran after `generation`. */
  private async make(net: NetworkRecord, bridgeIndex: number, generation: number): Promise<WarmEndpoint> {
    const { place, names, leases } = this.opts
    const { fd: netnsFd, ipv6Default } = await place.newContainerNetnsOffPath()
    let inner: Rtnl | undefined
    let ip: string | undefined
    let leaseOwner = this.owner
    try {
      inner = await place.inside(netnsFd, true)
      if (generation !== this.generation) throw new Error('the network service closed while it was made')
      // Beside the pair's creation (another socket): each waits in the kernel for the rtnl lock.
      const loUp = inner.up(LOOPBACK_IFINDEX)
      loUp.catch(() => undefined) // awaited below, once the pair is made (or has failed)
      // The lease names the host veth before it exists: a collector after this process's death waits for it to go.
      const hostVeth = names.newVeth()
      leaseOwner = warmEndpointOwner(this.owner, hostVeth)
      ip = claimAddress(leases, net, leaseOwner, undefined, this.opts.addressesInUse(net.id))
      const plan = { ...planFor(net, hostVeth, ip, bridgeIndex, place.isHost), ipv6BornOff: ipv6Default !== undefined }
      this.making.add(plan.hostVeth)
      try {
        // lo's answer too: its failure fails the making.
        const innerIndex = await createEndpoint(this.opts.host(), inner, netnsFd, plan).finally(() => loUp)
        // Its end inside has IPv6 off: the namespace's default goes back to a fresh one's for what the container makes.
        ipv6Default?.restore()
        return { networkId: net.id, netnsFd, inner, hostVeth: plan.hostVeth, ifname: plan.ifname, innerIndex, ip }
      } finally {
        this.making.delete(plan.hostVeth)
      }
    } catch (err) {
      // Closing the namespace takes the pair with it.
      ipv6Default?.dispose()
      inner?.close()
      closeQuietly(netnsFd)
      if (ip) leases.release(ipKey(net.id, ip), leaseOwner)
      throw err
    }
  }

  /** Who holds a kept endpoint's address: this pool, naming the endpoint's host veth. */
  private leaseOwnerOf(ep: WarmEndpoint): string {
    return warmEndpointOwner(this.owner, ep.hostVeth)
  }

  /** Takes `ep` out of those kept; whether it was kept. */
  private unkeep(ep: WarmEndpoint): boolean {
    const eps = this.kept.get(ep.networkId)
    const at = eps?.indexOf(ep) ?? -1
    if (at >= 0) eps!.splice(at, 1)
    return at >= 0
  }

  /** Removes the endpoint, then gives its address back: not to a container whose MAC the old pair still has on the bridge. */
  private async discard(ep: WarmEndpoint): Promise<void> {
    closeEndpoint(ep)
    await removeVeth(this.opts.host, ep.hostVeth, this.opts.place.isHost).catch((err) => debug('removing warm veth %s failed: %s', ep.hostVeth, err))
    this.release(ep)
  }

  /** Gives the endpoint's address back (a no-op once a taker holds it). */
  private release(ep: WarmEndpoint): void {
    this.opts.leases.release(ipKey(ep.networkId, ep.ip), this.leaseOwnerOf(ep))
  }
}

/** Sorts endpoints by address, lowest first (in place); returns them. */
function sortByAddress(eps: WarmEndpoint[]): WarmEndpoint[] {
  return eps.sort((a, b) => parseIp(a.ip) - parseIp(b.ip))
}

/** A warm endpoint's plan: eth0, with the route, at `ip` on `net`. */
function planFor(net: NetworkRecord, hostVeth: string, ip: string, bridgeIndex: number, hostTuning: boolean): EndpointPlan {
  return { bridgeIndex, hostVeth, ifname: 'eth0', hostTuning, ip, prefixLen: parseCidr(net.subnet).prefix, gateway: net.gateway, defaultRoute: true }
}

function closeEndpoint(ep: WarmEndpoint): void {
  ep.inner.close()
  closeQuietly(ep.netnsFd)
}
