/**
 * Published-port specs, Docker's `-p` syntax, parsed into plain data:
 *
 *   "8888:80"                 every host address, host port 8888 -> container 80/tcp
 *   "127.0.0.1:9999:80/tcp"   one host address
 *   "5353:53/udp"             UDP
 *   "80", "127.0.0.1::80"     an ephemeral (free) host port
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import { parseIp } from './ipam'

/** Transport protocols that can be published. */
export type Proto = 'tcp' | 'udp'

/** A parsed `-p` spec; `hostPort` 0 asks for an ephemeral port. */
export interface PortRequest {
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

/** Parses one `-p` spec. Throws EINVALID. */
export function parsePortSpec(spec: string): PortRequest {
  const [addrPart, protoPart, extra] = spec.split('/')
  if (extra !== undefined || !addrPart) throw new InvalidArgumentError(`bad port spec "${spec}"`)
  const proto = parseProto(protoPart, spec)
  const fields = addrPart.split(':')
  let hostIp = ''
  let hostPort = ''
  let containerPort: string
  if (fields.length === 1) [containerPort] = fields
  else if (fields.length === 2) [hostPort, containerPort] = fields
  else if (fields.length === 3) [hostIp, hostPort, containerPort] = fields
  else throw new InvalidArgumentError(`bad port spec "${spec}" (IPv6 host addresses are not supported)`)
  if (hostIp) parseIp(hostIp)
  if (hostIp === '0.0.0.0') hostIp = ''
  return { hostIp, hostPort: hostPort === '' ? 0 : parsePort(hostPort, spec, false), containerPort: parsePort(containerPort, spec, false), proto }
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
