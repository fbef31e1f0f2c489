/**
 * The network layer's entry point for the container lifecycle and the
 * public Network API: container endpoints (veths + addresses), published
 * ports (DNAT rules), name resolution (hosts files) and, through
 * {@link NetworkRegistry}, the networks themselves; all persisted under
 * `<root>/networks/`.
 *
 * Mutating calls run one at a time (an in-process queue); claim files
 * ({@link Leases}) settle races with other processes on the same root.
 *
 * @module
 */
import * as path from 'node:path'
import { InternalError, InvalidArgumentError, NameConflictError } from '../errors'
import { NoFreeSubnetError } from './errors'
import { closeQuietly } from '../sys/libc'
import { debug } from '../util/debug'
import { stamp } from '../util/start-trace'
import { collectAbandoned } from './abandoned'
import { claimAddress } from './address-claim'
import { DueReleases } from './due-releases'
import { createEndpoint } from './endpoint'
import { HostSockets } from './host-sockets'
import { renderSection, updateHostsFile } from './hosts'
import { defaultSubnetPools, macForIp, parseCidr, parseIp } from './ipam'
import { ipKey, Leases, nameKey, portKey, type Staleness } from './leases'
import { netNames, runtimeTag, type NetNames } from './names'
import { HostPortExposure } from './host-port-exposure'
import type { NetworkPlace } from './place'
import type { PortForwarding } from './port-forwarding'
import { hostHasIpv6 } from './port-probe'
import { PortPublisher } from './publisher'
import { DEFAULT_NETWORK, NetworkRegistry } from './registry'
import { formatMac, LOOPBACK_IFINDEX, Rtnl, RtnlError } from './rtnl'
import { NetworkStore, type ContainerNetRecord, type EndpointRecord, type NetworkRecord } from './store'
import type { AttachOptions, ConnectOptions, ContainerRef, CreateNetworkOptions, EndpointSettings, NetworkInfo, NetworkSettings } from './types'
import { removeVeth } from './veth-removal'
import { endpointSettings, hostEntries, networkInfo, networkSettings } from './views'
import { WarmEndpoints, type WarmEndpoint } from './warm-endpoints'
import { isDeadWarmOwner, isWarmOwner, warmOwnerVeth } from './warm-owner'
import type { Prunable } from '../util/prune-filter'

export { DEFAULT_NETWORK } from './registry'

/** Options of {@link NetworkService}. */
export interface NetworkServiceOptions {
  /** The runtime root directory. */
  root: string
  /** Address pools new networks' subnets are carved from (default {@link defaultSubnetPools}). */
  subnetPool?: string[]
  /** Where the bridges and rules live (default: the host's namespace). */
  place?: NetworkPlace
}

/** Host objects that records account for (see removeOrphans). */
interface LiveObjects {
  veths: Set<string>
  bridges: Set<string>
  /** Owner marks of live rules: `ctr:<id>` and `net:<id>`. */
  owners: Set<string>
  /** How many networks exist or are being created. */
  networks: number
}

/** A container's network namespace while it is being connected. */
interface ContainerNetns {
  netnsFd: number
  /** An rtnetlink socket inside it. */
  inner: Rtnl
  /** The endpoint made ahead in it, when it was kept warm. */
  warm?: WarmEndpoint
}

/** Networks and container networking of one runtime root. */
export class NetworkService {
  /** Kernel object names of this runtime. */
  readonly names: NetNames
  private readonly store: NetworkStore
  private readonly leases: Leases
  private readonly sockets: HostSockets
  private readonly networks: NetworkRegistry
  /** The endpoints kept warm, one per network a container joined. */
  private readonly warm: WarmEndpoints
  private tail: Promise<unknown> = Promise.resolve()
  /** Containers' releases asked for and not run yet (./due-releases): run at their turn, or first by who needs them. */
  private readonly dueReleases = new DueReleases()

  /** @param opts - root directory and optional subnet pools. */
  constructor(opts: NetworkServiceOptions) {
    this.names = netNames(runtimeTag(opts.root), opts.root)
    this.store = new NetworkStore(opts.root)
    this.leases = new Leases(path.join(this.store.dir, 'leases'))
    this.sockets = new HostSockets(this.names, opts.place)
    const pools = opts.subnetPool?.length ? opts.subnetPool : defaultSubnetPools
    this.networks = new NetworkRegistry(this.store, this.leases, this.names, pools, this.sockets)
    this.warm = new WarmEndpoints({
      host: () => this.sockets.offPathHost,
      place: this.sockets.place,
      names: this.names,
      leases: this.leases,
      addressesInUse: (id) => this.addressesInUse(id),
      landedAfterLower: (net) => this.lowerWarmSoon([net.id]),
    })
  }

  private get host(): Rtnl {
    return this.sockets.host
  }

  private get fw() {
    return this.sockets.fw
  }

  /**
   * Closes the netlink sockets (they are reopened on next use), once the warm endpoints kept are gone
   * (their addresses given back only once their pairs left the bridge) and those being made have
   * ended: one finishing after the close would give its address back after close() returned.
   */
  async close(): Promise<void> {
    await this.warm.closeAll()
    this.sockets.close()
  }

  private abandonedCollected = false

  /** At this runtime's first network use: remove what runtimes whose root was deleted left (abandoned.ts). */
  private async collectAbandonedOnce(): Promise<void> {
    // A private namespace holds this runtime's objects alone.
    if (this.abandonedCollected || !this.sockets.place.isHost) return
    this.abandonedCollected = true
    // Best effort: someone else's leftovers must never fail this runtime's own operation.
    await collectAbandoned(this.host, this.fw).catch((err) => debug('collecting abandoned networks failed: %s', err))
  }

  /**
   * Runs `fn` after the mutations before it; with `open`, once the sockets are ready (a private
   * namespace's are opened then); with `afterReleases`, once every release asked for before it ran
   * (./due-releases): what it reads and changes is then as those releases leave it.
   */
  private serial<T>(fn: () => Promise<T>, { open = true, afterReleases = true } = {}): Promise<T> {
    const task = async () => {
      if (open) await this.sockets.ready()
      if (afterReleases) await this.dueReleases.runAll()
      return fn()
    }
    const run = this.tail.then(task, task)
    this.tail = run.catch(() => undefined)
    return run
  }

  // ---------------------------------------------------------------- containers

  /**
   * Attaches a container's fresh network namespace to `mode` ("bridge" or a
   * user network name) as eth0, brings lo up, publishes ports and writes
   * name resolution. Call before the container's process starts. On failure
   * nothing is left behind.
   */
  connect(container: ContainerRef, netnsFd: number, mode: string, opts: ConnectOptions = {}): Promise<NetworkSettings> {
    return this.serial(async () => {
      const net = await this.connectionTo(container, mode)
      return this.connectNow(container, { netnsFd, inner: await this.sockets.place.inside(netnsFd) }, net, opts)
    })
  }

  /**
   * As {@link connect}, in a network namespace of its own: the one kept warm
   * for the network (./warm-endpoints), addressed already, when there is one
   * and no static address is asked for, else a fresh one.
   * Returns the namespace's fd (the caller closes it once the container
   * runs) and `startSettled`, to call once the start is reported (or has
   * failed): the network's next namespace is made then, not beside the
   * start it would slow down. On failure nothing is left behind (and the
   * next namespace is made at once). The relays of its published ports
   * (IPv6 sides, rootless ports) are not waited for here but in `serving`,
   * which the start awaits beside its program's: their host sockets listen
   * already. When it rejects, the caller releases the container.
   */
  join(container: ContainerRef, mode: string, opts: ConnectOptions = {}): Promise<{ netnsFd: number; settings: NetworkSettings; startSettled: () => void; serving: () => Promise<void> }> {
    // Not behind the releases due (./due-releases) unless it depends on them: see dependsOnReleases.
    return this.serial(async () => {
      const net = await this.connectionTo(container, mode)
      // Before a warm endpoint is taken: from then until its record is saved, only this process knows the veth is a container's.
      if (this.dependsOnReleases(container, net, opts)) await this.dueReleases.runAll()
      const warm = opts.ip ? undefined : await this.warm.take(net.id, await this.networks.bridgeIndex(net), container.id)
      // Taken warm, its endpoint needs no address or veth another container leaves; else it claims its own after them.
      if (!warm) await this.dueReleases.runAll()
      const netnsFd = warm?.netnsFd ?? this.newContainerNetns()
      stamp(warm ? 'net: warm netns taken' : 'net: netns made')
      try {
        const inner = warm?.inner ?? (await this.sockets.place.inside(netnsFd))
        const settings = await this.connectNow(container, { netnsFd, inner, warm }, net, opts, false)
        return { netnsFd, settings, startSettled: () => this.refillSoon(net), serving: () => this.forwarding.serving(container.id) }
      } catch (err) {
        closeQuietly(netnsFd)
        this.refillSoon(net)
        throw err
      }
    }, { afterReleases: false })
  }

  /**
   * Whether a start joining `net` must see the releases due done first: when it publishes ports (they
   * may be theirs), or when a container leaving shares a user network with it (its hosts file, and
   * its peers', would list that one). Its own release runs first in any case (connectionTo).
   */
  private dependsOnReleases(container: ContainerRef, net: NetworkRecord, opts: ConnectOptions): boolean {
    if (this.publisher.requests(opts).length) return true
    const due = this.dueReleases.containers()
    if (!due.length) return false
    // Networks it rejoins count as user networks: the default one lists no peers, so that is only a wait too many.
    const peered = new Set([...(net.isDefault ? [] : [net.id]), ...this.store.attachments(container.id).map((a) => a.networkId)])
    return peered.size > 0 && due.some((id) => this.store.container(id)?.endpoints.some((e) => peered.has(e.networkId)))
  }

  /** Before a container connects: its stale state released, and the network it joins for `mode`. */
  private async connectionTo(container: ContainerRef, mode: string): Promise<NetworkRecord> {
    stamp('net: queue entered')
    await this.collectAbandonedOnce()
    await this.dueReleases.run(container.id)
    const stale = this.store.container(container.id)
    if (stale) await this.releaseNow(stale)
    // Its previous run's addresses are its own claims: reusable only once that run's veths are gone.
    await this.vethTeardownOf(container.id)
    return this.networks.forMode(mode)
  }

  /** Connects the container's namespace (`ns.inner` is closed here); in the queue. `untilServed`: its port relays serve when it resolves. */
  private async connectNow(container: ContainerRef, ns: ContainerNetns, net: NetworkRecord, opts: ConnectOptions, untilServed = true): Promise<NetworkSettings> {
    const rec: ContainerNetRecord = { containerId: container.id, name: container.name, hostname: container.hostname, hostsFile: container.hostsFile, links: opts.links ?? [], hostGatewayNames: opts.hostGatewayNames, endpoints: [], ports: [] }
    stamp('net: inner socket opened')
    try {
      // A warm namespace's lo is up already.
      if (!ns.warm) await ns.inner.up(LOOPBACK_IFINDEX)
      const ep = await this.addEndpoint(rec, net, ns, opts)
      stamp('net: endpoint made')
      await this.rejoinAttachments(rec, ns.netnsFd, ns.inner)
      const requests = this.publisher.requests(opts)
      if (requests.length) this.store.saveContainer({ ...rec, publishing: true })
      rec.ports = await this.publisher.publish(rec, ep.ipAddress, requests)
      if (untilServed) await this.forwarding.serving(rec.containerId)
      stamp('net: ports published')
      // Without ports the record is as its last endpoint's save left it: written once per join, not twice.
      if (requests.length) this.store.saveContainer(rec)
    } catch (err) {
      // Rules of a publish cut short by the failure may exist that the record does not list.
      await this.releaseNow({ ...rec, publishing: true })
      throw err
    } finally {
      ns.inner.close()
    }
    stamp('net: saved')
    this.refreshHosts(rec)
    stamp('net: hosts written')
    return networkSettings(rec, this.store.networks(), hostHasIpv6)
  }

  /**
   * After a join's start: makes the network's next warm endpoints, once the start's caller has gone on
   * (not on its path). The fill begins in the queue (after a removal of the network queued before, and
   * before one queued after, which waits for it) but runs beside it: a start queued meanwhile takes an
   * endpoint kept already instead of waiting for this one.
   */
  private refillSoon(net: NetworkRecord): void {
    const epoch = this.warm.epoch
    setImmediate(() => {
      void this.serial(async () => {
        // Removed meanwhile (bridgeIndex would bring its bridge back), or the service closed.
        if (!this.store.networks().some((n) => n.id === net.id) || epoch !== this.warm.epoch) return
        void this.warm.fill(net, await this.networks.bridgeIndex(net), epoch)
      }, { afterReleases: false }).catch((err) => debug('warm endpoint for %s not made: %s', net.name, err))
    })
  }

  /**
   * After addresses on these networks came free: moves each one's warm endpoint (kept, or being made
   * by a fill queued before) to its lowest free address (./warm-endpoints lower), in the queue, before
   * any start queued after this call: a start only takes it, checking nothing. (An address another
   * process frees is seen at the next release here.)
   */
  private lowerWarmSoon(networkIds: string[]): void {
    const epoch = this.warm.epoch
    for (const id of new Set(networkIds)) {
      void this.serial(async () => {
        const net = this.store.networks().find((n) => n.id === id)
        if (net && epoch === this.warm.epoch) await this.warm.lower(net)
      }, { open: false, afterReleases: false }).catch((err) => debug('warm endpoint of network %s not moved: %s', id.slice(0, 12), err))
    }
  }

  /** Live-attaches a running container to another network (eth1, eth2...). */
  attach(containerId: string, netnsFd: number, networkName: string, opts: AttachOptions = {}): Promise<EndpointSettings> {
    return this.serial(async () => {
      const rec = this.store.container(containerId)
      if (!rec) throw new InvalidArgumentError(`container ${containerId.slice(0, 12)} has no bridge networking (network mode none, host or container:), so it cannot join a network`)
      const net = await this.networks.forMode(networkName)
      if (rec.endpoints.some((e) => e.networkId === net.id)) throw new NameConflictError('endpoint', `${rec.name} on ${net.name}`)
      const inner = await this.sockets.place.inside(netnsFd)
      let ep: EndpointRecord
      try {
        ep = await this.addEndpoint(rec, net, { netnsFd, inner }, opts)
      } finally {
        inner.close()
      }
      this.rememberAttachment(containerId, net.id, opts)
      this.refreshHosts(rec, [net.id])
      return endpointSettings(ep, net)
    })
  }

  /**
   * Connects a container that does not run (created or exited): the network is remembered and
   * joined at its next start, before its program runs (`docker network connect` on a created
   * container). ENAMECONFLICT when it is already connected to that network.
   */
  attachAtStart(containerId: string, networkName: string, opts: AttachOptions = {}): Promise<void> {
    return this.serial(async () => {
      const net = await this.networks.forMode(networkName)
      if (this.store.attachments(containerId).some((a) => a.networkId === net.id)) throw new NameConflictError('endpoint', `${containerId.slice(0, 12)} on ${net.name}`)
      this.rememberAttachment(containerId, net.id, opts)
    })
  }

  private rememberAttachment(containerId: string, networkId: string, opts: AttachOptions): void {
    const remembered = this.store.attachments(containerId).filter((a) => a.networkId !== networkId)
    this.store.saveAttachments(containerId, [...remembered, { networkId, ...(opts.ip ? { ip: opts.ip } : {}), aliases: opts.aliases ?? [] }])
  }

  /** At start: joins the networks the container was connected to before it stopped (those that still exist). */
  private async rejoinAttachments(rec: ContainerNetRecord, netnsFd: number, inner: Rtnl): Promise<void> {
    const networks = this.store.networks()
    for (const a of this.store.attachments(rec.containerId)) {
      const net = networks.find((n) => n.id === a.networkId)
      if (!net || rec.endpoints.some((e) => e.networkId === net.id)) continue
      await this.addEndpoint(rec, net, { netnsFd, inner }, { ip: a.ip, aliases: a.aliases })
    }
  }

  /** Forgets a removed container's remembered networks. */
  forget(containerId: string): void {
    this.store.saveAttachments(containerId, [])
  }

  /** Live-detaches a container from a network; its interface disappears and peers forget its name. */
  detach(containerId: string, networkName: string): Promise<void> {
    return this.serial(async () => {
      const rec = this.store.container(containerId)
      const net = this.networks.find(networkName)
      const remembered = this.store.attachments(containerId)
      const rest = remembered.filter((a) => a.networkId !== net.id)
      this.store.saveAttachments(containerId, rest)
      const ep = rec?.endpoints.find((e) => e.networkId === net.id)
      // A stopped container only has the remembered attachment: forgetting it is the whole disconnect.
      if (!ep && rest.length < remembered.length) return
      if (!rec || !ep) throw new InvalidArgumentError(`container ${containerId.slice(0, 12)} is not connected to network ${net.name}`)
      await this.host.deleteLink(ep.hostVeth)
      rec.endpoints = rec.endpoints.filter((e) => e !== ep)
      if (rec.ports.some((p) => p.containerIp === ep.ipAddress)) await this.publisher.unpublishIp(rec, ep.ipAddress)
      this.store.saveContainer(rec)
      this.leases.release(ipKey(net.id, ep.ipAddress), rec.containerId)
      this.refreshHosts(rec, [net.id])
    })
  }

  /**
   * Tears down everything of a container (veths, rules, address leases).
   * Idempotent; works after a crash. Resolves once its veths are gone, but
   * holds the queue only for the rules, the record and the names: waiting
   * for the kernel to delete the veths (tens of ms while the dead
   * namespace is cleaned up) used to delay the next container's start.
   * It is due at the call (./due-releases) and queued a turn of the event
   * loop later: an exit's release (asked for before its wait() resolves)
   * lets wait() resolve first. Every operation queued after the call still
   * finds the address, ports and name released, but a start that depends on
   * nothing it frees (a warm endpoint taken, no ports, no user network
   * shared: join) goes ahead of it rather than wait for that turn.
   */
  release(containerId: string): Promise<void> {
    const released = this.dueReleases.add(containerId, () => this.releaseDue(containerId))
    // Reading and deleting the records, leases and hosts entries took 0.3-4 ms of the event loop between an
    // rm: true container's exit and its wait(), which now resolves first.
    setImmediate(() => void this.serial(() => this.dueReleases.runAll(), { open: false, afterReleases: false }))
    return released.then(() => this.vethTeardowns.get(containerId))
  }

  /** {@link release}'s work, when its turn comes. */
  private async releaseDue(containerId: string): Promise<void> {
    const rec = this.store.container(containerId)
    // Every container's exit comes here: network 'none' ones must not open a rootless runtime's namespace.
    if (!rec && !this.store.networks().length) return
    await this.sockets.ready()
    if (rec) await this.releaseLeavingVeths(rec)
    // No record: only rules left by a crash between saving and deleting it can remain.
    else await this.forwarding.remove(containerId)
  }

  /** The container's network state for inspect(); undefined when it has no bridge networking. */
  settings(containerId: string): NetworkSettings | undefined {
    const rec = this.store.container(containerId)
    return rec && networkSettings(rec, this.store.networks(), hostHasIpv6)
  }

  /** The managed /etc/hosts section of a container (own name, links, peers on user networks); "" if unknown. */
  hostsFor(containerId: string): string {
    const rec = this.store.container(containerId)
    return rec ? renderSection(hostEntries(rec, this.store.containers(), this.store.networks())) : ''
  }

  /** At runtime start: releases containers for which `isAlive` is false, and removes our kernel objects nothing refers to. */
  gc(isAlive: (containerId: string) => boolean): Promise<void> {
    return this.serial(async () => {
      for (const rec of this.store.containers()) if (!isAlive(rec.containerId)) await this.releaseNow(rec)
      await this.removeOrphans()
      const owners = new Set([...this.store.containers().map((c) => c.containerId), ...this.store.networks().map((n) => n.id)])
      // A warm endpoint's address is no container's: it is held while the process keeping it runs.
      // A dead owner's veth is off the bridge once its namespace is cleaned up, in the background: until
      // then its address (and MAC) stays leased, for a later collection. The veths left before were just
      // deleted; one still there came after (an owner killed while making it).
      const links = new Set((await this.host.links()).map((l) => l.name))
      this.leases.releaseStale((owner): Staleness => {
        if (!isWarmOwner(owner)) return owners.has(owner) ? undefined : 'aged'
        return isDeadWarmOwner(owner) && !links.has(warmOwnerVeth(owner) ?? '') ? 'now' : undefined
      })
    })
  }

  private async releaseNow(rec: ContainerNetRecord): Promise<void> {
    await this.releaseLeavingVeths(rec)
    await this.vethTeardowns.get(rec.containerId)
  }

  /**
   * Releases a container's rules, record and claims now, and its veths and
   * their addresses in the background (tracked in {@link vethTeardowns}):
   * an address stays claimed until its veth is gone, so no new container
   * takes it (and its MAC, derived from it) while the old port is still
   * on the bridge.
   */
  private async releaseLeavingVeths(rec: ContainerNetRecord): Promise<void> {
    const { endpoints, ports } = rec
    const addresses = endpoints.map((e) => ipKey(e.networkId, e.ipAddress))
    // A container that never published a port has no rule: no nf_tables dump on the next start's way.
    if (rec.ports.length || rec.publishing) await this.forwarding.remove(rec.containerId)
    this.store.deleteContainer(rec.containerId)
    // Its claims are its addresses (given back once its veths are gone) and the ports it lists; only a publish cut
    // short (marked) may hold ports not listed, for which every claim is read (a dozen files, on each exit's way).
    if (rec.publishing) this.leases.releaseAll(rec.containerId, new Set(addresses))
    else for (const p of ports) this.leases.release(portKey(p.proto, p.hostPort), rec.containerId)
    rec.endpoints = []
    this.refreshHosts(rec, endpoints.map((e) => e.networkId), false)
    const earlier = this.vethTeardownOf(rec.containerId)
    const teardown = (async () => {
      await earlier
      try {
        for (const ep of endpoints) await removeVeth(() => this.host, ep.hostVeth, this.sockets.place.isHost)
        // Another process's relays of its ports end with the veths, a moment after them.
        await this.forwarding.freed(ports)
      } finally {
        // A veth that would not go must not keep the addresses claimed for the life of this process.
        for (const key of addresses) this.leases.release(key, rec.containerId)
        this.lowerWarmSoon(endpoints.map((e) => e.networkId))
      }
    })()
    this.vethTeardowns.set(rec.containerId, teardown)
    void teardown.finally(() => {
      if (this.vethTeardowns.get(rec.containerId) === teardown) this.vethTeardowns.delete(rec.containerId)
    }).catch(() => {})
  }

  /** Veth removals still under way, by container: a new start of the same container waits for its own. */
  private readonly vethTeardowns = new Map<string, Promise<void>>()

  /** Resolves once `containerId`'s veth removal under way has ended; its failure is release()'s to report, not a start's. */
  private vethTeardownOf(containerId: string): Promise<void> {
    return this.vethTeardowns.get(containerId)?.catch(() => undefined) ?? Promise.resolve()
  }

  /**
   * Deletes veths, bridges and rules carrying our names but belonging to no
   * record (left by a crash). Networks another process is creating right
   * now (name claimed, record not saved yet) count as live.
   *
   * The kernel's view is taken first and the records read after it: every
   * veth, bridge and rule is recorded (or its network's name claimed) before
   * it is made, so one that another process made meanwhile is in records
   * read afterwards. Read the other way round, a container another process
   * was starting lost its veth or its port rules right after it was ready.
   */
  private async removeOrphans(): Promise<void> {
    const links = await this.host.links()
    const ruleOwners = await this.fw.owners()
    let live: LiveObjects | undefined
    // The first call comes after closeForward's own dump of the accept rules.
    const liveNow = () => (live ??= this.liveObjects())
    await this.fw.closeForward((b) => b.startsWith(this.names.bridgePrefix) && !liveNow().bridges.has(b))
    const { veths, bridges, owners } = liveNow()
    for (const l of links) {
      if (l.name.startsWith(this.names.vethPrefix) && !veths.has(l.name)) await this.host.deleteLink(l.name)
      else if (l.name.startsWith(this.names.bridgePrefix) && !bridges.has(l.name)) await this.host.deleteLink(l.name)
    }
    for (const owner of ruleOwners) {
      if (owners.has(owner)) continue
      if (owner.startsWith('ctr:')) await this.fw.removeContainer(owner.slice(4))
      else if (owner.startsWith('exp:')) await this.fw.removeExposures(owner.slice(4))
      else if (owner.startsWith('net:')) await this.fw.removeNetwork(owner.slice(4))
    }
    if (!this.liveObjects().networks) await this.fw.deleteTable()
  }

  /** The kernel objects the records (and networks being created) account for, as of now. */
  private liveObjects(): LiveObjects {
    const containers = this.store.containers()
    const netIds = new Set([...this.store.networks().map((n) => n.id), ...this.leases.owners('name-')])
    const bridges = new Set([...netIds].map((id) => this.names.bridgeFor(id)))
    if (this.leases.owner(nameKey(DEFAULT_NETWORK))) bridges.add(this.names.defaultBridge)
    return {
      veths: new Set([...containers.flatMap((c) => c.endpoints.map((e) => e.hostVeth)), ...this.warmVeths()]),
      bridges,
      owners: new Set([...containers.flatMap((c) => [`ctr:${c.containerId}`, `exp:${c.containerId}`]), ...[...netIds].map((id) => `net:${id}`)]),
      networks: netIds.size,
    }
  }

  /** Host ends of the veths kept warm (./warm-endpoints) or being made: no container's. */
  warmVeths(): string[] {
    return this.warm.hostVeths()
  }

  /** Resolves once no fill of warm endpoints is under way for the network: the ones on its bridge are all kept then. */
  warmSettled(networkId: string): Promise<void> {
    return this.warm.settled(networkId)
  }

  /** A fresh network namespace for a container (an fd the caller closes), where this runtime's networks can reach it. */
  newContainerNetns(): number {
    return this.sockets.place.newContainerNetns()
  }

  /** Whether anything is recorded (a network, a container's endpoints): else there is nothing to collect or remove. */
  protected get hasRecords(): boolean {
    return this.store.networks().length > 0 || this.store.containers().length > 0
  }

  /** Milliseconds since the container's network state was saved (undefined: it has none). */
  recordAge(containerId: string): number | undefined {
    return this.store.containerAge(containerId)
  }

  /**
   * Allocates an address, records the endpoint (before touching the kernel, so a crash leaves a
   * trace), and creates it; or records the endpoint of `ns.warm`, made and addressed ahead for this
   * network, whose lease the container holds already.
   */
  private async addEndpoint(rec: ContainerNetRecord, net: NetworkRecord, ns: ContainerNetns, opts: AttachOptions): Promise<EndpointRecord> {
    if (net.isDefault && (opts.ip || opts.aliases?.length))
      throw new InvalidArgumentError('static addresses and aliases are supported on user-defined networks only (create one with Network.create)')
    const { warm, inner, netnsFd } = ns
    if (warm) return this.recordEndpoint(rec, { networkId: net.id, ifname: warm.ifname, hostVeth: warm.hostVeth, ipAddress: warm.ip, aliases: opts.aliases })
    const bridgeIndex = await this.networks.bridgeIndex(net)
    const subnet = parseCidr(net.subnet)
    const ip = await this.claimAddressBesideWarm(net, rec.containerId, opts.ip)
    const ep = this.recordEndpoint(rec, { networkId: net.id, ifname: nextIfname(rec), hostVeth: this.names.newVeth(), ipAddress: ip, aliases: opts.aliases })
    const plan = { bridgeIndex, hostVeth: ep.hostVeth, ifname: ep.ifname, ip, prefixLen: subnet.prefix, gateway: net.gateway, defaultRoute: ep.ifname === 'eth0', hostTuning: this.sockets.place.isHost }
    try {
      await createEndpoint(this.host, inner, netnsFd, plan)
    } catch (err) {
      if (!(err instanceof RtnlError)) throw err
      // The cached bridge may have been deleted behind our back (another process, an admin): check it and retry once.
      this.networks.forgetBridge(net)
      await createEndpoint(this.host, inner, netnsFd, { ...plan, bridgeIndex: await this.networks.bridgeIndex(net) })
    }
    return ep
  }

  /**
   * Claims the container's address on `net` when no warm endpoint was taken: the one asked for, or
   * the lowest free. The endpoints this process keeps warm for the network give their addresses up
   * when one is that one, or lower than the lowest free (Docker's order), or the last free ones.
   */
  private async claimAddressBesideWarm(net: NetworkRecord, owner: string, requested: string | undefined): Promise<string> {
    // A fill under way leases the next address ahead: the kept endpoints are then the ones to ask.
    await this.warm.settled(net.id)
    if (requested) {
      await this.warm.yieldAddress(net.id, requested)
      return claimAddress(this.leases, net, owner, requested, this.addressesInUse(net.id))
    }
    for (;;) {
      const warmIp = this.warm.addressOf(net.id)
      let ip: string
      try {
        ip = claimAddress(this.leases, net, owner, undefined, this.addressesInUse(net.id))
      } catch (err) {
        if (!(err instanceof NoFreeSubnetError) || warmIp === undefined) throw err
        await this.warm.yieldAddress(net.id, warmIp)
        continue
      }
      if (warmIp === undefined || parseIp(warmIp) > parseIp(ip)) return ip
      this.leases.release(ipKey(net.id, ip), owner)
      // Bounded: each turn discards one kept endpoint, and fills make a few at most.
      await this.warm.yieldAddress(net.id, warmIp)
    }
  }

  /** Adds the endpoint (its MAC derived from its address, as Docker's) to the container's record, saved. */
  private recordEndpoint(rec: ContainerNetRecord, ep: Omit<EndpointRecord, 'macAddress' | 'aliases'> & { aliases?: string[] }): EndpointRecord {
    const full: EndpointRecord = { ...ep, macAddress: formatMac(macForIp(ep.ipAddress)), aliases: ep.aliases ?? [] }
    rec.endpoints.push(full)
    this.store.saveContainer(rec)
    return full
  }

  /** Addresses in use on a network -> owning container name. */
  private addressesInUse(networkId: string): Map<string, string> {
    const out = new Map<string, string>()
    for (const c of this.store.containers()) for (const e of c.endpoints) if (e.networkId === networkId) out.set(e.ipAddress, c.name)
    return out
  }

  /**
   * Rewrites, in place, the hosts files of `rec` and of everyone sharing a
   * user network with it (on `networkIds`, default: all of its networks).
   */
  private refreshHosts(rec: ContainerNetRecord, networkIds = rec.endpoints.map((e) => e.networkId), includeSelf = true): void {
    const networks = this.store.networks()
    const userNets = new Set(networks.filter((n) => !n.isDefault && networkIds.includes(n.id)).map((n) => n.id))
    // Peers are listed on user networks only: off them, no other container's record is read (each start's join
    // and each exit's release read every one of them, however many containers ran, for nothing).
    const peersListed = userNets.size > 0 || (includeSelf && onUserNetwork(rec, networks))
    const all = peersListed ? this.store.containers() : includeSelf ? [this.store.container(rec.containerId)].filter((c) => c !== undefined) : []
    const targets = all.filter((c) => (includeSelf && c.containerId === rec.containerId) || (c.containerId !== rec.containerId && c.endpoints.some((e) => userNets.has(e.networkId))))
    for (const c of targets) if (c.hostsFile) updateHostsFile(c.hostsFile, renderSection(hostEntries(c, all, networks)))
  }

  private forwardingOnce?: PortForwarding

  /** How published ports reach containers: one instance for the service's life (relays are kept in it). */
  private get forwarding(): PortForwarding {
    return (this.forwardingOnce ??= this.sockets.place.forwarding(() => this.fw))
  }

  private exposureOnce?: HostPortExposure

  /** The relays of `exposeHostPorts`, listening on gateways where the bridges are: one instance for the service's life. */
  get hostPortExposure(): HostPortExposure {
    return (this.exposureOnce ??= new HostPortExposure({
      listenNetns: () => this.sockets.place.bridgesNetns(),
      // In turn with the service's other uses of its nf_tables socket: two dumps at once on it mix their replies.
      withFirewall: (fn) => this.serial(() => fn(this.fw)),
      bridgeOf: (gateway) => this.bridgeOfGateway(gateway),
    }))
  }

  /** The bridge of the network whose gateway this is (the runtime's subnets never overlap). */
  private bridgeOfGateway(gateway: string): string {
    const network = this.store.networks().find((n) => n.gateway === gateway)
    if (!network) throw new InternalError(`no network of this runtime has the gateway ${gateway}`)
    return network.bridge
  }

  private get publisher(): PortPublisher {
    return new PortPublisher(this.forwarding, this.leases, () => this.store.containers())
  }

  // ---------------------------------------------------------------- networks

  /** Creates a user-defined network with its own bridge and subnet. */
  create(name: string, opts: CreateNetworkOptions = {}): Promise<NetworkInfo> {
    return this.serial(async () => {
      await this.collectAbandonedOnce()
      return networkInfo(await this.networks.create(name, opts), [])
    })
  }

  /** A network's inspect view. Throws ENONETWORK. `"bridge"` creates the default network on first use. */
  async get(nameOrId: string): Promise<NetworkInfo> {
    if (nameOrId === DEFAULT_NETWORK) await this.serial(() => this.networks.ensureDefault())
    return networkInfo(this.networks.find(nameOrId), this.store.containers())
  }

  /** Every network of this runtime. */
  async list(): Promise<NetworkInfo[]> {
    const containers = this.store.containers()
    return this.store.networks().map((n) => networkInfo(n, containers))
  }

  /** Removes a user network; EINUSE while containers are attached. */
  remove(nameOrId: string): Promise<void> {
    return this.serial(async () => {
      const net = this.networks.find(nameOrId)
      if (net.isDefault) throw new InvalidArgumentError(`"${DEFAULT_NETWORK}" is the predefined default network and cannot be removed`)
      await this.removeNetwork(net)
    })
  }

  /** Removes every user network without containers that `selected` accepts; returns their names. */
  prune(selected: (net: Prunable) => boolean = () => true): Promise<string[]> {
    return this.serial(async () => {
      const removed: string[] = []
      for (const net of this.store.networks()) {
        if (net.isDefault || this.networks.attached(net.id).length || !selected(net)) continue
        await this.removeNetwork(net)
        removed.push(net.name)
      }
      return removed
    })
  }

  /** Removes a network and the endpoint kept warm for it (EINUSE while containers are attached: kept then). */
  private async removeNetwork(net: NetworkRecord): Promise<void> {
    if (!this.networks.attached(net.id).length) await this.warm.drop(net.id)
    await this.networks.remove(net)
  }

  /**
   * Removes everything this runtime made: every container's endpoints and
   * rules, every network including the default one, and the nf_tables
   * table. For runtime teardown and tests. User networks another live
   * process created stay, and with them the table that holds their rules.
   */
  destroy(): Promise<void> {
    return this.serial(async () => {
      for (const rec of this.store.containers()) await this.releaseNow(rec)
      await Promise.allSettled(this.vethTeardowns.values())
      await this.warm.dropAll()
      for (const net of this.store.networks()) if (!this.networks.keptForCreator(net)) await this.networks.remove(net)
      await this.removeOrphans()
      if (!this.store.networks().length) await this.fw.deleteTable()
    })
  }
}

/** The lowest ethN not used by the container yet. */
function nextIfname(rec: ContainerNetRecord): string {
  const used = new Set(rec.endpoints.map((e) => e.ifname))
  let i = 0
  while (used.has(`eth${i}`)) i++
  return `eth${i}`
}

/** Whether `rec` has an endpoint on a user network (its hosts file then lists its peers there). */
function onUserNetwork(rec: ContainerNetRecord, networks: NetworkRecord[]): boolean {
  return rec.endpoints.some((e) => networks.find((n) => n.id === e.networkId)?.isDefault === false)
}
