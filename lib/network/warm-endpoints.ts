/**
 * Endpoints made ahead of a start, one per network in use, as the spare
 * shim is kept warm: a fresh network namespace (lo up) with a veth pair
 * whose host end is already on the network's bridge and up, and whose other
 * end is eth0 inside, down, without an address. A start on that network
 * takes it and only has to give eth0 its MAC, address and route
 * (./endpoint addressWarmEndpoint): making the namespace and the pair, the
 * part of a bridge start that waits longest in the kernel (behind the
 * previous container's namespace being cleaned up), is done after the
 * previous start instead of in the next one.
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
import { randomBytes } from 'node:crypto'
import { closeQuietly } from '../sys/libc'
import { debug } from '../util/debug'
import { createPair } from './endpoint'
import type { NetNames } from './names'
import type { NetworkPlace } from './place'
import { bridgePortOf, LOOPBACK_IFINDEX, type Rtnl } from './rtnl'
import { removeVeth } from './veth-removal'

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
}

/** What the pool works with: the sockets and names of its service. */
export interface WarmEndpointsOptions {
  /** rtnetlink of the bridges' namespace. */
  host: () => Rtnl
  /** Where containers' namespaces are made and reached. */
  place: NetworkPlace
  /** The runtime's object names. */
  names: NetNames
}

/** The endpoints kept warm, by network id. Callers serialise fill, take and drop (the service's queue). */
export class WarmEndpoints {
  private readonly kept = new Map<string, WarmEndpoint>()
  /** Host ends of pairs being made (not kept yet). */
  private readonly making = new Set<string>()
  private generation = 0

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
   * Takes the endpoint kept for a network, whose bridge is `bridgeIndex` now; undefined when none is
   * kept, or when its host end is no longer on that bridge (the bridge was deleted or made again,
   * by another process or an admin): that one is discarded and the start makes its own.
   */
  async take(networkId: string, bridgeIndex: number): Promise<WarmEndpoint | undefined> {
    const ep = this.kept.get(networkId)
    if (!ep) return undefined
    this.kept.delete(networkId)
    const port = await this.bridgePortOf(ep.hostVeth).catch(() => undefined)
    if (port?.bridgeIndex === bridgeIndex && port.up) return ep
    debug('warm endpoint %s left bridge %d: discarded', ep.hostVeth, bridgeIndex)
    // Not awaited: the start makes its own pair under another name meanwhile.
    void this.discard(ep)
    return undefined
  }

  /** The bridge the host end is on, and whether it is up: from sysfs in the host's namespace (no rtnetlink wait), else asked. */
  private async bridgePortOf(hostVeth: string): Promise<{ bridgeIndex: number; up: boolean } | undefined> {
    if (this.opts.place.isHost) return bridgePortOf(hostVeth)
    const link = await this.opts.host().link(hostVeth).catch(() => undefined)
    return link?.master === undefined ? undefined : { bridgeIndex: link.master, up: link.up }
  }

  /** Makes an endpoint for the network if none is kept. Never rejects: a failure only leaves the next start to make its own. */
  async fill(networkId: string, bridgeIndex: number, epoch = this.generation): Promise<void> {
    if (this.kept.has(networkId) || epoch !== this.generation) return
    const generation = this.generation
    let ep: WarmEndpoint
    try {
      ep = await this.make(networkId, bridgeIndex, generation)
    } catch (err) {
      debug('warm endpoint for network %s not made: %s', networkId.slice(0, 12), err)
      return
    }
    // Closed meanwhile: the host socket is closed too, and host() would open one nobody closes; closing the
    // namespace takes the pair with it (as closeAll does for the kept ones).
    if (generation !== this.generation) close(ep)
    else if (!this.kept.has(networkId)) this.kept.set(networkId, ep)
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
    for (const ep of this.kept.values()) close(ep)
    this.kept.clear()
  }

  /** Makes an endpoint; gives up, before it touches the host socket, once closeAll ran after `generation`. */
  private async make(networkId: string, bridgeIndex: number, generation: number): Promise<WarmEndpoint> {
    const { place, names } = this.opts
    const netnsFd = place.newContainerNetns()
    let inner: Rtnl | undefined
    try {
      inner = await place.inside(netnsFd)
      await inner.up(LOOPBACK_IFINDEX)
      if (generation !== this.generation) throw new Error('the network service closed while it was made')
      const pair = { bridgeIndex, hostVeth: names.newVeth(), ifname: 'eth0', hostTuning: place.isHost }
      this.making.add(pair.hostVeth)
      try {
        await createPair(this.opts.host(), netnsFd, pair, randomMac())
        const innerIndex = (await inner.link(pair.ifname))?.index
        if (!innerIndex) throw new Error(`${pair.ifname} is missing from the namespace just made`)
        return { networkId, netnsFd, inner, hostVeth: pair.hostVeth, ifname: pair.ifname, innerIndex }
      } finally {
        this.making.delete(pair.hostVeth)
      }
    } catch (err) {
      // Closing the namespace takes the pair with it.
      inner?.close()
      closeQuietly(netnsFd)
      throw err
    }
  }

  private async discard(ep: WarmEndpoint): Promise<void> {
    close(ep)
    await removeVeth(this.opts.host(), ep.hostVeth).catch((err) => debug('removing warm veth %s failed: %s', ep.hostVeth, err))
  }
}

function close(ep: WarmEndpoint): void {
  ep.inner.close()
  closeQuietly(ep.netnsFd)
}

/** A random unicast, locally administered MAC: the taker gives eth0 its own (derived from its address). */
function randomMac(): Buffer {
  const mac = randomBytes(6)
  mac[0] = (mac[0] & 0xfe) | 0x02
  return mac
}
