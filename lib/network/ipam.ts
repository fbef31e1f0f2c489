/**
 * IPv4 address management, pure functions only: CIDR parsing, the gateway
 * (.1), the next free address for a container (.2, .3, ...), validation of
 * static addresses, and choosing a subnet that collides with nothing the
 * host routes.
 *
 * Addresses are handled as unsigned 32-bit numbers.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import { AddressInUseError, NoFreeSubnetError } from './errors'

/** An IPv4 network: address (host bits zero) and prefix length. */
export interface Cidr {
  network: number
  prefix: number
}

/**
 * Where subnets for new networks come from, in order, when none is given
 * (each is carved into /24s). Docker's 172.17.0.0/16 and podman's
 * 10.88.0.0/16 are avoided explicitly ({@link reservedSubnets}), even when
 * their bridges are down and their routes missing from the host table.
 */
export const defaultSubnetPools = ['10.89.0.0/16', '10.90.0.0/16', '10.91.0.0/16', '172.30.0.0/16', '192.168.224.0/20']

/** Subnets never chosen automatically. */
export const reservedSubnets = ['172.17.0.0/16', '10.88.0.0/16']

const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/

/** Parses dotted IPv4; throws EINVALID. */
export function parseIp(s: string): number {
  const m = ipv4.exec(s)
  if (!m) throw new InvalidArgumentError(`"${s}" is not an IPv4 address (expected e.g. 10.89.0.5)`)
  const parts = m.slice(1).map(Number)
  if (parts.some((p) => p > 255)) throw new InvalidArgumentError(`"${s}" is not an IPv4 address: each part must be 0-255`)
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0
}

/** Dotted form of a numeric address. */
export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

/** The 4 network-order bytes of a dotted address. */
export function ipToBuffer(s: string): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(parseIp(s))
  return b
}

/** Netmask of a prefix length, as a number. */
export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
}

/** Parses "a.b.c.d/n"; host bits must be zero. Throws EINVALID. */
export function parseCidr(s: string): Cidr {
  const [addr, len, extra] = s.split('/')
  const prefix = Number(len)
  if (extra !== undefined || !/^\d{1,2}$/.test(len ?? '') || prefix > 32)
    throw new InvalidArgumentError(`"${s}" is not an IPv4 subnet (expected e.g. 192.168.90.0/24)`)
  const ip = parseIp(addr)
  const network = (ip & maskOf(prefix)) >>> 0
  if (network !== ip) throw new InvalidArgumentError(`subnet "${s}" has host bits set; did you mean ${formatCidr({ network, prefix })}?`)
  if (prefix > 30) throw new InvalidArgumentError(`subnet "${s}" is too small: it needs room for a gateway and containers (/30 or larger)`)
  return { network, prefix }
}

/** "a.b.c.d/n". */
export function formatCidr(c: Cidr): string {
  return `${formatIp(c.network)}/${c.prefix}`
}

/** Whether address `ip` lies in `c`. */
export function contains(c: Cidr, ip: number): boolean {
  return ((ip & maskOf(c.prefix)) >>> 0) === c.network
}

/** Whether two networks share any address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix)
  return ((a.network & maskOf(p)) >>> 0) === ((b.network & maskOf(p)) >>> 0)
}

/** Broadcast address of a network. */
function broadcastOf(c: Cidr): number {
  return (c.network | ~maskOf(c.prefix)) >>> 0
}

/** The default gateway of a subnet: its first host address (.1). */
export function defaultGateway(c: Cidr): string {
  return formatIp(c.network + 1)
}

/** Checks that `gateway` is a usable host address of `c`. */
export function validateGateway(c: Cidr, gateway: string): void {
  const g = parseIp(gateway)
  if (!contains(c, g) || g === c.network || g === broadcastOf(c))
    throw new InvalidArgumentError(`gateway ${gateway} is not a host address of subnet ${formatCidr(c)}`)
}

/**
 * The lowest free host address of `c`, skipping the gateway and `taken`:
 * .2 for the first container, then .3, like Docker.
 */
export function allocateIp(c: Cidr, gateway: string, taken: Iterable<string>): string {
  const used = new Set([...taken, gateway].map(parseIp))
  for (let ip = c.network + 1; ip < broadcastOf(c); ip++) if (!used.has(ip)) return formatIp(ip)
  throw new NoFreeSubnetError(`subnet ${formatCidr(c)} has no free address left`)
}

/** Validates a requested static address: inside the subnet, not network/broadcast/gateway, not taken. */
export function validateStaticIp(c: Cidr, gateway: string, ip: string, taken: Map<string, string>): void {
  const n = parseIp(ip)
  if (!contains(c, n) || n === c.network || n === broadcastOf(c))
    throw new InvalidArgumentError(`address ${ip} is not a host address of subnet ${formatCidr(c)}`)
  if (ip === gateway) throw new AddressInUseError(ip, 'the network gateway')
  const owner = taken.get(ip)
  if (owner) throw new AddressInUseError(ip, `container ${owner}`)
}

/**
 * The first /`size` subnet inside `pools` that overlaps none of `inUse`
 * (host routes, existing networks) nor the reserved Docker/podman ranges.
 */
export function pickSubnet(pools: string[], inUse: Cidr[], size = 24): Cidr {
  const avoid = [...inUse, ...reservedSubnets.map(parseCidr)]
  for (const poolText of pools) {
    const pool = parseCidrLoose(poolText)
    const step = 2 ** (32 - size)
    if (pool.prefix > size) {
      if (!avoid.some((a) => overlaps(a, pool))) return pool
      continue
    }
    for (let n = pool.network; n < pool.network + 2 ** (32 - pool.prefix); n += step) {
      const candidate = { network: n >>> 0, prefix: size }
      if (!avoid.some((a) => overlaps(a, candidate))) return candidate
    }
  }
  throw new NoFreeSubnetError(`no free /${size} subnet left in the address pools ${pools.join(', ')}; remove unused networks or give a subnet explicitly`)
}

/** Like {@link parseCidr} but accepts any prefix (pools may be large). */
function parseCidrLoose(s: string): Cidr {
  const [addr, len] = s.split('/')
  const prefix = Number(len)
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new InvalidArgumentError(`"${s}" is not an IPv4 subnet pool`)
  return { network: (parseIp(addr) & maskOf(prefix)) >>> 0, prefix }
}

/** A Docker-style MAC derived from the address: 02:42:<4 address bytes>. Deterministic, locally administered. */
export function macForIp(ip: string): Buffer {
  return Buffer.concat([Buffer.from([0x02, 0x42]), ipToBuffer(ip)])
}
