/**
 * Host ports: is one free, and which one is free. Published ports work in
 * the kernel (DNAT) and would silently shadow a host process listening on
 * the same port, so before publishing we bind the port ourselves for an
 * instant: if that fails, someone has it.
 *
 * @module
 */
import * as dgram from 'node:dgram'
import * as fs from 'node:fs'
import * as net from 'node:net'
import type { Proto } from './ports'

/** Binds `ip:port` (port 0: any free port) and releases it; resolves with the bound port, or null when in use. */
function probe(proto: Proto, ip: string, port: number): Promise<number | null> {
  const host = ip || '0.0.0.0'
  return new Promise((resolve, reject) => {
    const done = (err: NodeJS.ErrnoException | null, bound: number | null): void => {
      if (err && err.code !== 'EADDRINUSE' && err.code !== 'EACCES') reject(err)
      else resolve(err ? null : bound)
    }
    if (proto === 'tcp') {
      const srv = net.createServer()
      srv.once('error', (err) => done(err, null))
      // ipv6Only: `::` is probed alone, as the relay binds it beside 0.0.0.0 (sockets.c).
      srv.listen({ host, port, exclusive: true, ipv6Only: net.isIPv6(host) }, () => {
        const bound = (srv.address() as net.AddressInfo).port
        srv.close(() => done(null, bound))
      })
    } else {
      const sock = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', ipv6Only: net.isIPv6(host) })
      sock.once('error', (err) => {
        sock.close()
        done(err, null)
      })
      sock.bind({ address: host, port, exclusive: true }, () => {
        const bound = sock.address().port
        sock.close(() => done(null, bound))
      })
    }
  })
}

/**
 * Whether this host has IPv6 to listen on (an address in /proc/net/if_inet6: none when IPv6 is off
 * or the module absent); without, a port published on every address is left without its `::` side,
 * as Docker leaves it.
 */
export function hostHasIpv6(): boolean {
  return (hasIpv6 ??= readHasIpv6())
}

/** Read once per process: a start asks it per binding, and again for its network view. */
let hasIpv6: boolean | undefined

function readHasIpv6(): boolean {
  try {
    return fs.readFileSync('/proc/net/if_inet6', 'utf8').trim() !== ''
  } catch {
    return false
  }
}

/** Whether no host process holds `ip:port` (ip "" = any address). */
export async function hostPortFree(proto: Proto, ip: string, port: number): Promise<boolean> {
  return (await probe(proto, ip, port)) !== null
}

/** How many ephemeral candidates to try before giving up. */
const EPHEMERAL_ATTEMPTS = 20

/**
 * A host port the kernel considers free on `ip` and that `taken` does not
 * reject (ports other containers already publish).
 */
export async function pickFreePort(proto: Proto, ip: string, taken: (port: number) => boolean): Promise<number | null> {
  for (let i = 0; i < EPHEMERAL_ATTEMPTS; i++) {
    const port = await probe(proto, ip, 0)
    if (port !== null && !taken(port)) return port
  }
  return null
}
