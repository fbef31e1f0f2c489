/**
 * Published-port specs, Docker's `-p` syntax, parsed into plain data:
 *
 *   "8888:80"                 every host address, host port 8888 -> container 80/tcp
 *   "127.0.0.1:9999:80/tcp"   one host address
 *   "5353:53/udp"             UDP
 *   "80", "127.0.0.1::80"     an ephemeral (free) host port
 *   "8000-8001:80-81"         ranges, paired port by port
 *   "[::1]:8080:80", "[::]::80"  an IPv6 host address, in brackets (relayed to the container's IPv4 address)
 *
 * @module
 */
import { isIPv6 } from 'node:net'
import { InvalidArgumentError } from '../errors'
import { parseIp } from './ipam'

/** Transport protocols that can be published. */
export type Proto = 'tcp' | 'udp'

/** A parsed `-p` spec; `hostPort` 0 asks for an ephemeral port. */
export interface PortRequest {
  /** An IPv4 or IPv6 address ("::1", without brackets); "" is every address, IPv4 and IPv6. */
  hostIp: string
  hostPort: number
  containerPort: number
  proto: Proto
}

/** A port as Docker keys it: "80/tcp". */
export type PortKey = `${number}/${Proto}`

function parsePort(s: string, spec: string, allowZero: boolean): number {
  const n = Number(s)
  if (!/^\d{1,5}$/.test(s) || n > 65535 || (n === 0 && !allowZero))
    throw new InvalidArgumentError(`bad port "${s}" in "${spec}": ports are 1-65535 (forms: "8080:80", "127.0.0.1:8080:80/tcp", "53:53/udp", "80")`)
  return n
}

function parseProto(s: string | undefined, spec: string): Proto {
  if (s === undefined || s === 'tcp') return 'tcp'
  if (s === 'udp') return 'udp'
  throw new InvalidArgumentError(`bad protocol "${s}" in port spec "${spec}": use tcp or udp`)
}

/** "80" or a range "8000-8002", as the ports it covers; "" is no port (an ephemeral host port). */
function parsePortRange(s: string, spec: string): number[] {
  if (s === '') return []
  const [first, last = first, extra] = s.split('-')
  if (extra !== undefined) throw new InvalidArgumentError(`bad port range "${s}" in "${spec}": write a range as 8000-8002`)
  const from = parsePort(first, spec, false)
  const to = parsePort(last, spec, false)
  if (to < from) throw new InvalidArgumentError(`bad port range "${s}" in "${spec}": the range ends before it starts`)
  return Array.from({ length: to - from + 1 }, (_, i) => from + i)
}

/** A leading "[ipv6]:" host address (Docker's form), and what follows its colon. */
function bracketedHost(addrPart: string, spec: string): { ipv6?: string; rest: string } {
  if (!addrPart.startsWith('[')) return { rest: addrPart }
  const end = addrPart.indexOf(']')
  const ipv6 = addrPart.slice(1, end)
  if (end < 0 || addrPart[end + 1] !== ':' || !isIPv6(ipv6)) throw new InvalidArgumentError(`bad port spec "${spec}": expected "[<IPv6 address>]:<host port>:<container port>", as "[::1]:8080:80"`)
  return { ipv6, rest: addrPart.slice(end + 2) }
}

/**
 * Parses one `-p` spec, with Docker's ranges ("8000-8001:80-81", "127.0.0.1::80-81"):
 * one request per container port, host ports paired in order. Throws EINVALID.
 */
export function parsePortSpec(spec: string): PortRequest[] {
  const [addrPart, protoPart, extra] = spec.split('/')
  if (extra !== undefined || !addrPart) throw new InvalidArgumentError(`bad port spec "${spec}"`)
  const proto = parseProto(protoPart, spec)
  const { ipv6, rest } = bracketedHost(addrPart, spec)
  const fields = rest.split(':')
  let hostIp = ipv6 ?? ''
  let hostPort = ''
  let containerPort: string
  if (fields.length === 1) [containerPort] = fields
  else if (fields.length === 2) [hostPort, containerPort] = fields
  else if (fields.length === 3 && ipv6 === undefined) [hostIp, hostPort, containerPort] = fields
  else throw new InvalidArgumentError(`bad port spec "${spec}": write an IPv6 host address in brackets, as "[::1]:8080:80"`)
  if (hostIp && ipv6 === undefined) parseIp(hostIp)
  if (hostIp === '0.0.0.0') hostIp = ''
  const containerPorts = parsePortRange(containerPort, spec)
  if (containerPorts.length === 0) throw new InvalidArgumentError(`bad port spec "${spec}": it names no container port`)
  const hostPorts = parsePortRange(hostPort, spec)
  if (hostPorts.length > 0 && hostPorts.length !== containerPorts.length)
    throw new InvalidArgumentError(`bad port spec "${spec}": the host range has ${hostPorts.length} ports and the container range ${containerPorts.length}; give ranges of one length`)
  return containerPorts.map((port, i) => ({ hostIp, hostPort: hostPorts[i] ?? 0, containerPort: port, proto }))
}

/**
 * Parses an `--expose` entry, the container side of a `-p` spec ("8080", "53/udp", a range
 * "8000-8002"), into the port keys it covers. Throws EINVALID.
 */
export function parseExposeSpec(spec: string): PortKey[] {
  const [ports, protoPart, extra] = spec.split('/')
  if (extra !== undefined || ports.includes(':')) throw new InvalidArgumentError(`bad expose entry "${spec}": a container port or range, no host part`)
  const proto = parseProto(protoPart, spec)
  const range = parsePortRange(ports, spec)
  if (range.length === 0) throw new InvalidArgumentError(`bad expose entry "${spec}": it names no port`)
  return range.map((port) => portKey(port, proto))
}

/** Parses an image's exposed port ("80", "80/tcp", "53/udp") into an ephemeral-port request (`-P`). */
export function exposedToRequest(exposed: string): PortRequest {
  const [port, proto] = exposed.split('/')
  return { hostIp: '', hostPort: 0, containerPort: parsePort(port, exposed, false), proto: parseProto(proto, exposed) }
}

/** "80/tcp" */
export function portKey(containerPort: number, proto: Proto): PortKey {
  return `${containerPort}/${proto}`
}

/** Whether two host bindings collide: same protocol and port, and one address covers the other. */
export function bindingsCollide(a: { hostIp: string; hostPort: number; proto: Proto }, b: { hostIp: string; hostPort: number; proto: Proto }): boolean {
  return a.proto === b.proto && a.hostPort === b.hostPort && (a.hostIp === '' || b.hostIp === '' || a.hostIp === b.hostIp)
}
