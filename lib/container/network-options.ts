/**
 * The network options the container layer handles itself (the network
 * layer does addresses, names and ports): `dns`, `extraHosts`, and the
 * combinations Docker refuses or ignores.
 *
 * @module
 */
import { isIPv4 } from 'node:net'
import { InvalidArgumentError } from '../errors'
import { exposedHostNames } from '../network/host-port-exposure'
import { Network } from '../network/network'
import type { NetworkMode, RunOptions } from './types'

/** The address Docker's `--add-host name:host-gateway` stands for: the host, as the container's network reaches it. */
const HOST_GATEWAY = 'host-gateway'

/** One `extraHosts` entry: a name and an IPv4 address or "host-gateway". */
interface ExtraHost {
  name: string
  target: string
}

function parseExtraHost(entry: unknown): ExtraHost {
  const m = typeof entry === 'string' ? /^([A-Za-z0-9][A-Za-z0-9.-]*):([0-9.]+|host-gateway)$/.exec(entry) : null
  if (!m || (m[2] !== HOST_GATEWAY && !isIPv4(m[2])))
    throw new InvalidArgumentError(`invalid extraHosts entry ${JSON.stringify(entry)}: expected "name:IPv4" or "name:host-gateway", e.g. "db:10.0.0.5"`)
  return { name: m[1], target: m[2] }
}

/**
 * The `extraHosts` option checked for the record (EINVALID on a malformed entry); "host-gateway"
 * needs a network with a gateway to the host, or the host's own ("none" and "container:" have neither).
 */
export function checkedExtraHosts(extraHosts: unknown, mode: NetworkMode): string[] {
  if (extraHosts === undefined) return []
  if (!Array.isArray(extraHosts)) throw new InvalidArgumentError('option "extraHosts" must be an array such as ["db:10.0.0.5"]')
  const gatewayless = mode === 'none' || mode.startsWith('container:')
  for (const entry of extraHosts) {
    if (parseExtraHost(entry).target === HOST_GATEWAY && gatewayless)
      throw new InvalidArgumentError(`extraHosts entry "${entry}": host-gateway needs a bridge network or the host's, not network "${mode}"`)
  }
  return extraHosts as string[]
}

/**
 * The `exposeHostPorts` option checked for the record: ports 1-65535 (EINVALID otherwise), on a
 * network with a gateway to the host or the host's own ("none" and "container:" have neither).
 */
export function checkedExposeHostPorts(ports: unknown, mode: NetworkMode): number[] {
  if (!Array.isArray(ports) || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535))
    throw new InvalidArgumentError(`option "exposeHostPorts" must be an array of ports (1-65535) of the host's loopback, e.g. [3000]; got ${JSON.stringify(ports)}`)
  if (mode === 'none' || mode.startsWith('container:'))
    throw new InvalidArgumentError(`exposeHostPorts needs a bridge network or the host's, not network "${mode}"`)
  return [...new Set(ports as number[])]
}

/** What of a record the host-gateway names come from: `extraHosts` entries, and `exposeHostPorts`'s names. */
type GatewayNamesSource = { extraHosts?: string[]; exposeHostPorts?: number[] }

/**
 * The hosts-file lines written at create: fixed addresses, and host-gateway names on the host network
 * (127.0.0.1: the host itself). On bridge networks the network layer writes the gateway at start.
 */
export function extraHostLines(h: GatewayNamesSource, mode: NetworkMode): string[] {
  const fixed = (h.extraHosts ?? []).map(parseExtraHost).filter((e) => e.target !== HOST_GATEWAY).map(({ name, target }) => `${target}\t${name}`)
  return [...fixed, ...(mode === 'host' ? hostGatewayNames(h).map((name) => `127.0.0.1\t${name}`) : [])]
}

/** The names standing for the host-gateway: of `extraHosts` entries, and the exposed host ports' names when there are some. */
export function hostGatewayNames(h: GatewayNamesSource): string[] {
  const named = (h.extraHosts ?? []).map(parseExtraHost).filter((e) => e.target === HOST_GATEWAY).map((e) => e.name)
  return [...named, ...(h.exposeHostPorts?.length ? exposedHostNames.filter((n) => !named.includes(n)) : [])]
}

/** The `network` option as the record keeps it: a mode or network name; a `Network` handle gives its name. EINVALID otherwise. */
export function networkModeOf(network: RunOptions['network']): NetworkMode | undefined {
  if (network === undefined || typeof network === 'string') return network
  if (network instanceof Network) return network.name
  throw new InvalidArgumentError('option "network" must be a string ("bridge", "host", "none", "container:<name>", a network\'s name) or a Network, e.g. await Network.create("mynet")')
}

/** `dns: ['10.0.0.53']` -> the nameservers replacing the host's; throws on a malformed entry. */
export function dnsServers(dns: unknown): string[] | undefined {
  if (dns === undefined) return undefined
  if (!Array.isArray(dns) || dns.some((d) => typeof d !== 'string' || !isIPv4(d)))
    throw new InvalidArgumentError(`option "dns" must be an array of IPv4 addresses, e.g. ["10.0.0.53"]; got ${JSON.stringify(dns)}`)
  return dns as string[]
}

/** Docker's rules for publishing ports per mode: ignored (with a warning) on the host network, refused when joining another container's. */
export function checkPortOptions(mode: NetworkMode, opts: RunOptions): void {
  const publishes = (Array.isArray(opts.ports) && opts.ports.length > 0) || !!opts.publishAll
  if (!publishes) return
  if (mode === 'host') process.emitWarning('minicontainer: published ports are discarded when using the host network mode', { code: 'MC_PORTS_HOST' })
  if (mode.startsWith('container:'))
    throw new InvalidArgumentError(`conflicting options: ports cannot be published in network mode "${mode}"; publish them on the container that owns the network`)
  if (mode === 'none') throw new InvalidArgumentError('conflicting options: ports cannot be published with network "none"')
}
