/**
 * The networks of one runtime: creating them (name and subnet claimed
 * across processes, bridge and rules brought up, record saved last),
 * finding them, and removing them. The default `bridge` network is created
 * on first use.
 *
 * Callers serialise mutations (the service's queue).
 *
 * @module
 */
import { AmbiguousReferenceError, InvalidArgumentError, NameConflictError } from '../errors'
import { newId, validName } from '../util/ids'
import { isAlive, thisProcess } from '../util/process-identity'
import { ensureNetworkUp, tearDownNetwork } from './bridge'
import { NetworkInUseError, NetworkNotFoundError } from './errors'
import type { HostSockets } from './host-sockets'
import { defaultGateway, formatCidr, overlaps, parseCidr, pickSubnet, validateGateway, type Cidr } from './ipam'
import { nameKey, subnetKey, type Leases } from './leases'
import { claimHostSubnet, releaseHostSubnet } from './host-subnets'
import type { NetNames } from './names'
import type { NetworkStore, NetworkRecord } from './store'
import type { CreateNetworkOptions } from './types'

/** Name of the default network. */
export const DEFAULT_NETWORK = 'bridge'
/** Names users cannot give a network (they are network modes). */
const reservedNames = new Set([DEFAULT_NETWORK, 'host', 'none', 'default'])

/** Networks of one runtime root. */
export class NetworkRegistry {
  /** Bridge ifindex of networks whose host side this process has already checked (saves two dumps per connect). */
  private readonly upNetworks = new Map<string, number>()

  constructor(
    private readonly store: NetworkStore,
    private readonly leases: Leases,
    private readonly names: NetNames,
    private readonly pools: string[],
    private readonly sockets: HostSockets,
  ) {}

  /** Finds a network by name, full id or unique id prefix; throws ENONETWORK. */
  find(nameOrId: string): NetworkRecord {
    const all = this.store.networks()
    const exact = all.find((n) => n.name === nameOrId || n.id === nameOrId)
    if (exact) return exact
    const byPrefix = nameOrId.length >= 3 ? all.filter((n) => n.id.startsWith(nameOrId)) : []
    if (byPrefix.length > 1) throw new AmbiguousReferenceError(nameOrId, byPrefix.length)
    if (!byPrefix.length) throw new NetworkNotFoundError(nameOrId)
    return byPrefix[0]
  }

  /** The network a container joins for mode `mode` ("bridge": the default one, created on first use). */
  async forMode(mode: string): Promise<NetworkRecord> {
    return mode === DEFAULT_NETWORK ? this.ensureDefault() : this.find(mode)
  }

  /** The default network, created on first use. */
  async ensureDefault(): Promise<NetworkRecord> {
    return this.store.networks().find((n) => n.isDefault) ?? this.newNetwork(DEFAULT_NETWORK, {}, true)
  }

  /** Creates a user-defined network. */
  async create(name: string, opts: CreateNetworkOptions): Promise<NetworkRecord> {
    if (!validName.test(name)) throw new InvalidArgumentError(`invalid network name "${name}": use letters, digits, "_", "." and "-", starting with a letter or digit`)
    if (reservedNames.has(name)) throw new InvalidArgumentError(`"${name}" is a predefined network mode and cannot be used as a network name`)
    const taken = this.store.networks().find((n) => n.name === name)
    if (taken) throw new NameConflictError('network', name, taken.id)
    return this.newNetwork(name, opts, false)
  }

  /** The bridge index of `net`, bringing its host side up when this process has not checked it yet. */
  async bridgeIndex(net: NetworkRecord): Promise<number> {
    let index = this.upNetworks.get(net.id)
    if (index === undefined) {
      index = await ensureNetworkUp(this.sockets.host, this.sockets.fw, net, this.names.owner, this.sockets.place.isHost)
      this.upNetworks.set(net.id, index)
    }
    return index
  }

  /** Forgets the cached bridge of `net` (it may have been deleted behind our back); the next use checks again. */
  forgetBridge(net: NetworkRecord): void {
    this.upNetworks.delete(net.id)
  }

  /** Names of the containers attached to a network. */
  attached(networkId: string): string[] {
    return this.store
      .containers()
      .filter((c) => c.endpoints.some((e) => e.networkId === networkId))
      .map((c) => c.name)
  }

  /** Removes a network (bridge, rules, claims, record); EINUSE while containers are attached. Deletes the table after the last one. */
  async remove(net: NetworkRecord): Promise<void> {
    const users = this.attached(net.id)
    if (users.length) throw new NetworkInUseError(net.name, users)
    this.upNetworks.delete(net.id)
    await tearDownNetwork(this.sockets.host, this.sockets.fw, net)
    this.store.deleteNetwork(net.id)
    this.leases.releaseAll(net.id)
    this.releaseHostClaim(net.subnet, net.id)
    if (!this.store.networks().length) await this.sockets.fw.deleteTable()
  }

  /**
   * Whether a runtime closing in this process must leave `net` alone: a user network that another
   * process, still alive, created (Docker keeps user networks until they are removed). One whose
   * creator died, or this process, goes with the close, so nothing is left after a Ctrl-C.
   */
  keptForCreator(net: NetworkRecord): boolean {
    const creator = net.creator
    if (net.isDefault || !creator || creator.pid === thisProcess().pid) return false
    return isAlive(creator.pid, creator.start)
  }

  /** Claims the name, picks and claims a subnet, creates the bridge and rules, then persists; on failure nothing remains. */
  private async newNetwork(name: string, opts: CreateNetworkOptions, isDefault: boolean): Promise<NetworkRecord> {
    const id = newId()
    if (!this.leases.claim(nameKey(name), id)) {
      if (isDefault) return this.awaitDefault()
      throw new NameConflictError('network', name, this.leases.owner(nameKey(name)))
    }
    let net: NetworkRecord | undefined
    let subnet: Cidr | undefined
    try {
      subnet = await this.claimSubnet(id, opts.subnet)
      const gateway = opts.gateway ?? defaultGateway(subnet)
      validateGateway(subnet, gateway)
      net = { id, name, driver: 'bridge', bridge: isDefault ? this.names.defaultBridge : this.names.bridgeFor(id), subnet: formatCidr(subnet), gateway, internal: !!opts.internal, labels: opts.labels ?? {}, created: new Date().toISOString(), isDefault, creator: thisProcess() }
      this.upNetworks.set(net.id, await ensureNetworkUp(this.sockets.host, this.sockets.fw, net, this.names.owner, this.sockets.place.isHost))
    } catch (err) {
      if (net) await tearDownNetwork(this.sockets.host, this.sockets.fw, net).catch(() => undefined)
      if (subnet) this.releaseHostClaim(formatCidr(subnet), id)
      this.leases.releaseAll(id)
      throw err
    }
    this.store.saveNetwork(net)
    return net
  }

  /** Another process is creating the default network right now: wait (bounded) for its record. */
  private async awaitDefault(): Promise<NetworkRecord> {
    for (let i = 0; i < 100; i++) {
      const net = this.store.networks().find((n) => n.isDefault)
      if (net) return net
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new NameConflictError('network', DEFAULT_NETWORK, this.leases.owner(nameKey(DEFAULT_NETWORK)))
  }

  /**
   * The explicit subnet (checked against our networks and host routes) or
   * the next free one from the pools, claimed for network `id` so a
   * concurrent process cannot take it too.
   */
  private async claimSubnet(id: string, requested?: string): Promise<Cidr> {
    const inUse = [...this.store.networks().map((n) => parseCidr(n.subnet)), ...(await this.sockets.host.routedCidrs())]
    if (requested) {
      const subnet = parseCidr(requested)
      const clash = inUse.find((c) => overlaps(c, subnet))
      if (clash || !this.leases.claim(subnetKey(formatCidr(subnet)), id) || !this.claimHostWide(formatCidr(subnet), id))
        throw new InvalidArgumentError(`subnet ${requested} overlaps ${formatCidr(clash ?? subnet)}, which is already in use (by another network or a host route); choose another subnet`)
      return subnet
    }
    // Bounded: pickSubnet throws once the pools are exhausted.
    for (;;) {
      const subnet = pickSubnet(this.pools, inUse)
      if (this.leases.claim(subnetKey(formatCidr(subnet)), id)) {
        if (this.claimHostWide(formatCidr(subnet), id)) return subnet
        this.leases.release(subnetKey(formatCidr(subnet)), id) // another runtime on this host has it
      }
      inUse.push(subnet)
    }
  }

  /** Claims a subnet among every runtime of the host (host-subnets.ts); a private namespace's subnets are its own. */
  private claimHostWide(subnet: string, id: string): boolean {
    return !this.sockets.place.isHost || claimHostSubnet(subnet, this.store.recordFile(id))
  }

  private releaseHostClaim(subnet: string, id: string): void {
    if (this.sockets.place.isHost) releaseHostSubnet(subnet, this.store.recordFile(id))
  }
}
