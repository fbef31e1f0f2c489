/**
 * The glue between the container lifecycle and the network layer: one
 * {@link NetworkService} per runtime root, and the three calls the
 * lifecycle makes (join at start, release at exit/remove, gc at runtime
 * start). Kept here so the lifecycle's hooks are one line each.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import type { Runtime } from '../runtime'
import { isAlive } from '../container/liveness'
import type { ContainerRecord } from '../container/types'
import { closeQuietly } from '../sys/libc'
import { createNetns } from '../sys/netns'
import { NetworkService } from './service'
import type { LinkEntry } from './store'
import type { HostBinding, NetworkSettings } from './types'

const services = new Map<string, NetworkService>()

/**
 * Sets a runtime's network options (the address pools default networks are
 * carved from); call before its first network use, e.g. from the Runtime
 * constructor with `RuntimeOptions.subnetPool`.
 */
export function configureNetwork(rt: Runtime, opts: { subnetPool?: string[] }): NetworkService {
  const svc = new NetworkService({ root: rt.root, subnetPool: opts.subnetPool })
  services.get(rt.root)?.close()
  services.set(rt.root, svc)
  return svc
}

/** The network service of a runtime (one per root per process). */
export function networkServiceOf(rt: Runtime): NetworkService {
  return services.get(rt.root) ?? configureNetwork(rt, {})
}

/** How long a not-running container's fresh network state is left alone: another process may be starting it. */
const START_GRACE_MS = 30_000

/** Whether the network state of a container of `rt` is still wanted (it runs, or may be starting elsewhere). */
function containerAlive(rt: Runtime, id: string): boolean {
  let state
  try {
    if (!rt.containers.read(id)) return false
    state = rt.containers.readState(id)
  } catch {
    return false
  }
  if (state.status === 'running') return isAlive(state.pid, state.pidStart)
  // Not running: its network state is still wanted only if it was saved after the last run ended, moments ago
  // (a start in progress in another process).
  const age = networkServiceOf(rt).recordAge(id)
  if (age === undefined || age > START_GRACE_MS) return false
  const finished = state.finishedAt ? Date.parse(state.finishedAt) : 0
  return Date.now() - age > finished
}

/**
 * At runtime start (once per process): releases network resources of
 * containers that are no longer running (e.g. after the owning process was
 * SIGKILLed) and removes orphaned interfaces and rules.
 */
export function gcNetworks(rt: Runtime): Promise<void> {
  return rt.once('network-gc', () => networkServiceOf(rt).gc((id) => containerAlive(rt, id)))
}

/** The network options of `run()`, as kept verbatim in `hostConfig.extra`. */
interface RunNetworkOptions {
  ip?: string
  aliases?: string[]
  links?: string[]
  ports?: string[]
  publishAll?: boolean
}

function stringList(value: unknown, option: string, example: string): string[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new InvalidArgumentError(`option "${option}" must be an array of strings, e.g. ${example}`)
  return value
}

/** Checked view of the network options (they arrive untyped from JavaScript callers). */
function optionsOf(record: ContainerRecord): RunNetworkOptions {
  const x = record.hostConfig.extra
  if (x.ip !== undefined && typeof x.ip !== 'string') throw new InvalidArgumentError('option "ip" must be a string such as "10.89.0.50"')
  return {
    ip: x.ip as string | undefined,
    aliases: stringList(x.aliases, 'aliases', "['db']"),
    links: stringList(x.links, 'links', "['mysql01:mysql']"),
    ports: stringList(x.ports, 'ports', "['8080:80', '127.0.0.1:5353:53/udp']"),
    publishAll: !!x.publishAll,
  }
}

/** Resolves `links: ['mysql01:mysql']` to addresses of running containers on the default bridge. */
function resolveLinks(rt: Runtime, links: string[] | undefined): LinkEntry[] {
  const svc = networkServiceOf(rt)
  return (links ?? []).map((spec) => {
    const [name, alias = name] = spec.split(':')
    let id: string
    try {
      id = rt.containers.resolve(name)
    } catch {
      throw new InvalidArgumentError(`link "${spec}": no container named ${name}`)
    }
    const ip = svc.settings(id)?.ipAddress
    if (!ip || !containerAlive(rt, id)) throw new InvalidArgumentError(`link "${spec}": container ${name} is not running on a bridge network`)
    return { name: rt.containers.read(id)?.name ?? name, alias, ip }
  })
}

/**
 * For network mode "bridge" or a user network: makes a fresh network
 * namespace, connects it, and returns its fd (for the shim) with the
 * resulting settings. The caller closes `fd` once the container runs.
 * On failure nothing is left (namespace closed, service rolled back).
 */
export async function joinBridgeNetwork(rt: Runtime, record: ContainerRecord, hostsFile: string, exposedPorts: string[] = []): Promise<{ fd: number; settings: NetworkSettings }> {
  await gcNetworks(rt)
  const opts = optionsOf(record)
  const fd = createNetns()
  try {
    const settings = await networkServiceOf(rt).connect({ id: record.id, name: record.name, hostname: record.config.hostname, hostsFile }, fd, record.hostConfig.networkMode, {
      ip: opts.ip,
      aliases: opts.aliases,
      links: resolveLinks(rt, opts.links),
      ports: opts.ports,
      publishAll: opts.publishAll,
      exposedPorts,
    })
    return { fd, settings }
  } catch (err) {
    closeQuietly(fd)
    throw err
  }
}

/**
 * Releases a container's veths, rules and addresses. Never rejects (it runs
 * unawaited when a container exits): a failure becomes a process warning,
 * and the next gc retries.
 */
export async function releaseContainerNetwork(rt: Runtime, id: string): Promise<void> {
  try {
    await networkServiceOf(rt).release(id)
  } catch (err) {
    process.emitWarning(`minicontainer: releasing the network of container ${id.slice(0, 12)} failed: ${(err as Error).message}`)
  }
}

/**
 * Removes every network object of a runtime (veths, rules, bridges, the
 * nf_tables table) and closes its sockets: for `Runtime` teardown and test
 * cleanup, after its containers are gone. The default bridge otherwise
 * persists between containers, like docker0.
 */
export async function teardownNetworks(rt: Runtime): Promise<void> {
  const svc = networkServiceOf(rt)
  await svc.destroy()
  svc.close()
  services.delete(rt.root)
}

/** A container's network settings for `inspect()`: empty values when it has no bridge networking. */
export function networkSettingsOf(rt: Runtime, id: string): NetworkSettings {
  return networkServiceOf(rt).settings(id) ?? { ipAddress: '', gateway: '', macAddress: '', ipPrefixLen: 0, ports: {}, networks: {} }
}

/** `c.port(80)`: the first host binding of a published container port, or undefined. */
export function publishedPort(rt: Runtime, id: string, containerPort: number, proto: 'tcp' | 'udp' = 'tcp'): HostBinding | undefined {
  return networkServiceOf(rt).settings(id)?.ports[`${containerPort}/${proto}`]?.[0]
}
