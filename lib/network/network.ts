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
import * as fs from 'node:fs'
import { runtimeOf, type Runtime, type RuntimeOption } from '../runtime'
import { NotRunningError } from '../errors'
import { closeQuietly, O_CLOEXEC } from '../sys/libc'
import { networkServiceOf } from './lifecycle'
import type { AttachOptions, CreateNetworkOptions, EndpointSettings, NetworkInfo } from './types'

/** Something naming a container: a handle with an `id`, or a name / id / id prefix. */
export type ContainerLike = string | { id: string }

/** A network of a runtime. Handles are cheap; the state lives under the runtime root. */
export class Network {
  private constructor(
    private readonly runtime: Runtime,
    /** Full id. */
    readonly id: string,
    /** Name. */
    readonly name: string,
  ) {}

  /** Creates a user-defined bridge network (subnet and gateway chosen when omitted). */
  static async create(name: string, opts: CreateNetworkOptions & RuntimeOption = {}): Promise<Network> {
    const rt = runtimeOf(opts)
    const info = await networkServiceOf(rt).create(name, opts)
    return new Network(rt, info.id, info.name)
  }

  /** Finds a network by name, id or id prefix; throws ENONETWORK. `"bridge"` is the default network. */
  static async get(nameOrId: string, opts: RuntimeOption = {}): Promise<Network> {
    const rt = runtimeOf(opts)
    const info = await networkServiceOf(rt).get(nameOrId)
    return new Network(rt, info.id, info.name)
  }

  /** Every network of the runtime. */
  static async list(opts: RuntimeOption = {}): Promise<Network[]> {
    const rt = runtimeOf(opts)
    return (await networkServiceOf(rt).list()).map((i) => new Network(rt, i.id, i.name))
  }

  /** Removes every user network without containers; returns their names. */
  static async prune(opts: RuntimeOption = {}): Promise<string[]> {
    return networkServiceOf(runtimeOf(opts)).prune()
  }

  /** Details: subnet, gateway, bridge interface, attached containers. */
  async inspect(): Promise<NetworkInfo> {
    return networkServiceOf(this.runtime).get(this.id)
  }

  /** Removes the network; EINUSE while containers are attached. */
  async remove(): Promise<void> {
    await networkServiceOf(this.runtime).remove(this.id)
  }

  /** Attaches a running container (as eth1, eth2...); peers on this network can resolve it at once. */
  async connect(container: ContainerLike, opts: AttachOptions = {}): Promise<EndpointSettings> {
    const id = this.containerId(container)
    const fd = this.openNetns(id, 'connect it to a network')
    try {
      return await networkServiceOf(this.runtime).attach(id, fd, this.id, opts)
    } finally {
      closeQuietly(fd)
    }
  }

  /** Detaches a container; its interface on this network disappears. */
  async disconnect(container: ContainerLike): Promise<void> {
    await networkServiceOf(this.runtime).detach(this.containerId(container), this.id)
  }

  private containerId(c: ContainerLike): string {
    return this.runtime.containers.resolve(typeof c === 'string' ? c : c.id)
  }

  /** Opens the running container's network namespace. */
  private openNetns(id: string, action: string): number {
    const state = this.runtime.containers.readState(id)
    if (state.status !== 'running' || !state.pid) throw new NotRunningError(id, action)
    try {
      return fs.openSync(`/proc/${state.pid}/ns/net`, fs.constants.O_RDONLY | O_CLOEXEC)
    } catch {
      throw new NotRunningError(id, action)
    }
  }
}
