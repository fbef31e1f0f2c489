/**
 * How the container lifecycle uses the network layer: join at start,
 * release at exit and removal, collection after a crash, and the views
 * inspect() shows. The network layer knows nothing of container records;
 * this module translates.
 *
 * @module
 */
import { InvalidArgumentError, PortNotPublishedError } from '../errors'
import { closeQuietly } from '../sys/libc'
import { debug } from '../util/debug'
import type { LinkEntry } from '../network/types'
import type { HostBinding, NetworkSettings } from '../network/types'
import type { ContainerContext } from './context'
import { programRuns, START_GRACE_MS } from './liveness'
import type { ContainerRecord } from './types'
import { hostGatewayNames } from './network-options'

/** Whether the network state of a container is still wanted (it runs, or may be starting in another process). */
export function networkStillWanted(ctx: ContainerContext, id: string): boolean {
  let state
  try {
    if (!ctx.containers.read(id)) return false
    state = ctx.containers.readState(id)
  } catch {
    return false
  }
  if (state.status === 'running') return programRuns(ctx, id, state)
  // Not running: its network state is still wanted only if it was saved after the last run ended, moments ago
  // (a start in progress in another process).
  const age = ctx.networks.recordAge(id)
  if (age === undefined || age > START_GRACE_MS) return false
  const finished = state.finishedAt ? Date.parse(state.finishedAt) : 0
  return Date.now() - age > finished
}

/** Resolves `links: ['mysql01:mysql']` to addresses of running containers on the default bridge. */
function resolveLinks(ctx: ContainerContext, links: string[]): LinkEntry[] {
  return links.map((spec) => {
    const [name, alias = name] = spec.split(':')
    let id: string
    try {
      id = ctx.containers.resolve(name)
    } catch {
      throw new InvalidArgumentError(`link "${spec}": no container named ${name}`)
    }
    const ip = ctx.networks.settings(id)?.ipAddress
    if (!ip || !networkStillWanted(ctx, id)) throw new InvalidArgumentError(`link "${spec}": container ${name} is not running on a bridge network`)
    return { name: ctx.containers.read(id)?.name ?? name, alias, ip }
  })
}

/**
 * For network mode "bridge" or a user network: joins a network namespace of
 * its own (kept warm for the network, or fresh) to the network (and the
 * networks it was connected to before a restart), and returns its fd for
 * the shim. The caller closes `fd` once the container runs, and calls
 * `startSettled` once its start is reported or failed (the network's next
 * warm namespace is made then). On failure nothing is left.
 */
export async function joinBridgeNetwork(ctx: ContainerContext, record: ContainerRecord, hostsFile: string, exposedPorts: string[] = []): Promise<{ fd: number; settings: NetworkSettings; startSettled: () => void; serving: () => Promise<void> }> {
  const h = record.hostConfig
  const { netnsFd: fd, settings, startSettled, serving } = await ctx.networks.join({ id: record.id, name: record.name, hostname: record.config.hostname, hostsFile }, h.networkMode, {
    ip: h.networkingConfig.ip,
    aliases: h.networkingConfig.aliases,
    links: resolveLinks(ctx, h.links),
    hostGatewayNames: hostGatewayNames(h),
    ports: h.portBindings,
    publishAll: h.publishAllPorts,
    exposedPorts,
  })
  debug('container %s joined %s: %s', record.id.slice(0, 12), h.networkMode, settings.ipAddress)
  try {
    await exposeHostPorts(ctx, record, settings)
    return { fd, settings, startSettled, serving }
  } catch (err) {
    closeQuietly(fd)
    startSettled()
    throw err
  }
}

/** `exposeHostPorts` on the gateway of every network the container joined; on failure, its network is released. */
async function exposeHostPorts(ctx: ContainerContext, record: ContainerRecord, settings: NetworkSettings): Promise<void> {
  const ports = record.hostConfig.exposeHostPorts ?? []
  if (!ports.length) return
  const gateways = [...new Set(Object.values(settings.networks).map((n) => n.gateway).filter(Boolean))]
  try {
    await ctx.networks.hostPortExposure.open(record.id, gateways, ports)
  } catch (err) {
    await ctx.networks.release(record.id)
    throw err
  }
}

/**
 * Releases a container's veths, rules and addresses. Never rejects (it runs
 * unawaited when a container exits): a failure becomes a process warning,
 * and the next collection retries.
 */
export async function releaseContainerNetwork(ctx: ContainerContext, id: string): Promise<void> {
  try {
    await Promise.all([ctx.networks.hostPortExposure.close(id), ctx.networks.release(id)])
  } catch (err) {
    process.emitWarning(`minicontainer: releasing the network of container ${id.slice(0, 12)} failed: ${(err as Error).message}`)
  }
}

/** A container's network settings for `inspect()`: empty values when it has no bridge networking. */
export function networkSettingsOf(ctx: ContainerContext, id: string): NetworkSettings {
  return ctx.networks.settings(id) ?? { ipAddress: '', gateway: '', macAddress: '', ipPrefixLen: 0, ports: {}, networks: {} }
}

/** `c.port(80)`: the first host binding of a published container port, or undefined. */
export function publishedPort(ctx: ContainerContext, id: string, containerPort: number, proto: 'tcp' | 'udp' = 'tcp'): HostBinding | undefined {
  return ctx.networks.settings(id)?.ports[`${containerPort}/${proto}`]?.[0]
}

/** `c.mappedPort(6379)`: the host port of a published container port; EINVALID naming the published ones when it is not. */
export function mappedPort(ctx: ContainerContext, id: string, name: string, containerPort: number, proto: 'tcp' | 'udp' = 'tcp'): number {
  const binding = publishedPort(ctx, id, containerPort, proto)
  if (binding) return Number(binding.hostPort)
  const ports = ctx.networks.settings(id)?.ports ?? {}
  const published = Object.entries(ports).flatMap(([port, bindings]) => bindings.map((b) => `${port} -> ${b.hostIp}:${b.hostPort}`))
  throw new PortNotPublishedError(name, `${containerPort}/${proto}`, published)
}
