/**
 * The public Network API (`docker network ...`): create, get, list, prune,
 * and per network inspect, connect, disconnect, remove.
 *
 * ```ts
 * const net = await Network.create('mynet', { subnet: '192.168.90.0/24' })
 * await run('img', ['sh'], { network: 'mynet', aliases: ['db'] })
 * await net.remove()
 * ```
 *
 * @module
 */
import { DefaultBinding } from '../util/default-binding'
import { InvalidArgumentError, NotRunningError } from '../errors'
import { closeQuietly } from '../sys/libc'
import { openNetns } from '../sys/netns'
import type { NetworkService } from './service'
import type { AttachOptions, CreateNetworkOptions, EndpointSettings, NetworkInfo } from './types'
import { joinsNetworks } from './network-mode'
import { pruneFilter, type PruneFilters } from '../util/prune-filter'

/** Something naming a container: a handle with an `id`, or a name / id / id prefix. */
export type ContainerLike = string | {
  /** The container's full id, as a {@link Container} handle has it. */
  id: string
}

/** The containers of a runtime, as the network API needs them: resolve a reference, and find a running one's pid. @internal */
export interface NetworkMembers {
  /** The full id of a container given by name, id or id prefix; throws ENOCONTAINER. */
  resolve(ref: string): string
  /** The container's record: its network mode decides whether it can join networks. */
  read(id: string): {
    /** Docker's HostConfig, as far as networks care. */
    hostConfig: {
      /** "bridge", "host", "none", "container:<name>" or a user network's name. */
      networkMode: string
    }
  } | undefined
  /** The container's state; `pid` is set while it runs. */
  readState(id: string): {
    /** The recorded lifecycle status, e.g. 'running'. */
    status: string
    /** Host pid of the container's PID 1, while it runs. */
    pid?: number
  }
}

/** What the network API needs from a runtime. A `Runtime` is one. */
export interface NetworkContext {
  /** The runtime's network service. @internal */
  readonly networks: NetworkService
  /** The runtime's containers. @internal */
  readonly containers: NetworkMembers
}

/** Which runtime's networks an operation applies to (default: `Runtime.default()`). */
export interface NetworkRuntimeOption {
  /** A `Runtime` (or anything providing its services); omitted, the default runtime. */
  runtime?: NetworkContext
}

const defaultContext = new DefaultBinding<NetworkContext>()

/** Binds the runtime used when a network operation gets none (called once by the runtime module). */
export function useDefaultNetworkContext(provider: () => NetworkContext): void {
  defaultContext.bind(provider)
}

function contextOf(opts?: NetworkRuntimeOption): NetworkContext {
  return defaultContext.of(opts?.runtime)
}

/** A network of a runtime. Handles are cheap; the state lives under the runtime root. */
export class Network {
  private constructor(
    private readonly runtime: NetworkContext,
    /** Full id. */
    readonly id: string,
    /** Name. */
    readonly name: string,
  ) {}

  /** Creates a user-defined bridge network (subnet and gateway chosen when omitted). */
  static async create(name: string, opts: CreateNetworkOptions & NetworkRuntimeOption = {}): Promise<Network> {
    const rt = contextOf(opts)
    const info = await rt.networks.create(name, opts)
    return new Network(rt, info.id, info.name)
  }

  /** Finds a network by name, id or id prefix; throws ENONETWORK. `"bridge"` is the default network. */
  static async get(nameOrId: string, opts: NetworkRuntimeOption = {}): Promise<Network> {
    const rt = contextOf(opts)
    const info = await rt.networks.get(nameOrId)
    return new Network(rt, info.id, info.name)
  }

  /** Every network of the runtime. */
  static async list(opts: NetworkRuntimeOption = {}): Promise<Network[]> {
    const rt = contextOf(opts)
    return (await rt.networks.list()).map((i) => new Network(rt, i.id, i.name))
  }

  /**
   * Removes every user network without containers, as `docker network prune`: `until` and `label`
   * filters as its `--filter` (EINVALID for a malformed one, before anything is removed). Returns their names.
   */
  static async prune(opts: NetworkRuntimeOption & PruneFilters = {}): Promise<string[]> {
    const selected = pruneFilter(opts)
    return contextOf(opts).networks.prune(selected)
  }

  /** Details: subnet, gateway, bridge interface, attached containers. */
  async inspect(): Promise<NetworkInfo> {
    return this.runtime.networks.get(this.id)
  }

  /** Removes the network; EINUSE while containers are attached. */
  async remove(): Promise<void> {
    await this.runtime.networks.remove(this.id)
  }

  /**
   * Attaches a running container (as eth1, eth2...); peers on this network can resolve it at once.
   * A container that does not run (created, or exited) joins at its next start, before its program
   * runs, as `docker network connect` does; then there is no endpoint yet and this resolves to undefined.
   */
  async connect(container: ContainerLike, opts: AttachOptions = {}): Promise<EndpointSettings | undefined> {
    const id = this.containerId(container)
    const { status } = this.runtime.containers.readState(id)
    if (status === 'created' || status === 'exited') return void await this.connectAtStart(id, opts)
    const fd = this.openNetns(id, 'connect it to a network')
    try {
      return await this.runtime.networks.attach(id, fd, this.id, opts)
    } finally {
      closeQuietly(fd)
    }
  }

  /** Detaches a container; its interface on this network disappears. */
  async disconnect(container: ContainerLike): Promise<void> {
    await this.runtime.networks.detach(this.containerId(container), this.id)
  }

  private async connectAtStart(id: string, opts: AttachOptions): Promise<void> {
    const mode = this.runtime.containers.read(id)?.hostConfig.networkMode ?? 'none'
    if (!joinsNetworks(mode))
      throw new InvalidArgumentError(`container ${id.slice(0, 12)} has network mode ${mode}, so it cannot join network ${this.name}; create it on a bridge or user network`)
    await this.runtime.networks.attachAtStart(id, this.id, opts)
  }

  private containerId(c: ContainerLike): string {
    return this.runtime.containers.resolve(typeof c === 'string' ? c : c.id)
  }

  /** Opens the running container's network namespace. */
  private openNetns(id: string, action: string): number {
    const state = this.runtime.containers.readState(id)
    if (state.status !== 'running' || !state.pid) throw new NotRunningError(id, action)
    try {
      return openNetns(`/proc/${state.pid}/ns/net`)
    } catch {
      throw new NotRunningError(id, action)
    }
  }
}
