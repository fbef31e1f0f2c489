/**
 * Subnets for tests that need to know their addresses, unique across every
 * suite running on the host at once (two worktrees, CI beside a developer):
 * a test never writes a literal subnet, it claims one here and derives the
 * addresses it expects from it.
 *
 * A claim is a lease (lib/network/leases.ts: a file created with O_EXCL)
 * in a host-wide directory, held by the claiming process's pid and start
 * time; it is released after the test file, and a claim whose process is
 * gone (a killed jest) is taken over.
 * Candidates that the host routes, or that a runtime already claimed
 * through the library's own host-wide claims (lib/network/host-subnets.ts),
 * are skipped. The range is apart from the library's default pools and the
 * benches' fixed 10.213.x pools, so neither can pick a subnet a test holds.
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { isAlive, processStartTime } from '../lib/container/liveness'
import { hostClaimDir } from '../lib/network/host-subnets'
import { Leases } from '../lib/network/leases'
import { formatCidr, formatIp, maskOf, overlaps, parseCidr, parseIp, type Cidr } from '../lib/network/ipam'

/** Where test claims live: a tmpfs, host-wide, gone at reboot with the bridges. */
export const testClaimDir = '/run/minicontainer-test/subnets'

/** The /16 test subnets are carved from. */
const TEST_RANGE = parseCidr('10.214.0.0/16')

/** A subnet claimed for one test file. */
export interface TestSubnet {
  /** "a.b.c.0/24". */
  readonly cidr: string
  /** Its `n`th address: `host(1)` is the default gateway, `host(2)` the first container. */
  host(n: number): string
  /** "a.b.c.": the text every address of the subnet starts with. */
  readonly stem: string
  /** The name of the library's host-wide claim file for this subnet (under hostClaimDir). */
  readonly claimName: string
}

/**
 * Claims `count` distinct /24 subnets for the calling test file, before its
 * tests (synchronously, so module-level code can use them) and releases
 * them after its tests. Throws when the range is exhausted.
 */
export function useSubnets(count: number): TestSubnet[] {
  const claimed = claimSubnets(count)
  afterAll(() => releaseSubnets(claimed))
  return claimed
}

/** Claims `count` subnets for this process; see {@link useSubnets}. */
export function claimSubnets(count: number): TestSubnet[] {
  const routed = hostRoutes()
  const claimed: TestSubnet[] = []
  for (let i = 0; i < 1 << (24 - TEST_RANGE.prefix) && claimed.length < count; i++) {
    const cidr: Cidr = { network: TEST_RANGE.network + i * 256, prefix: 24 }
    if (routed.some((r) => overlaps(r, cidr)) || fs.existsSync(path.join(hostClaimDir, claimName(cidr)))) continue
    const subnet = claimSubnet(formatCidr(cidr))
    if (subnet) claimed.push(subnet)
  }
  if (claimed.length < count) {
    releaseSubnets(claimed)
    throw new Error(`no ${count} free test subnets left in ${formatCidr(TEST_RANGE)} (see ${testClaimDir})`)
  }
  return claimed
}

/** An address as regular expression source that matches it literally. */
export function ipPattern(ip: string): string {
  return ip.replace(/\./g, '\\.')
}

/** The MAC a container gets for `ip`, written out independently of the library: 02:42 and the four octets in hex, as Docker. */
export function macOf(ip: string): string {
  return ['02', '42', ...ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':')
}

/** Claims one given subnet for this process, taking over a claim whose process is gone; undefined when a live process holds it. */
export function claimSubnet(cidr: string): TestSubnet | undefined {
  const subnet = parseCidr(cidr)
  const leases = new Leases(testClaimDir)
  const key = claimName(subnet)
  if (leases.claim(key, self())) return testSubnet(subnet)
  const holder = leases.owner(key)
  if (holder && !processAlive(holder)) leases.release(key, holder) // "" is a claim being written
  return leases.claim(key, self()) ? testSubnet(subnet) : undefined
}

/** Releases this process's claims made by {@link claimSubnets}. */
export function releaseSubnets(subnets: TestSubnet[]): void {
  const leases = new Leases(testClaimDir)
  for (const s of subnets) leases.release(s.claimName, self())
}

function testSubnet(cidr: Cidr): TestSubnet {
  const host = (n: number) => formatIp(cidr.network + n)
  return { cidr: formatCidr(cidr), host, stem: host(0).replace(/0$/, ''), claimName: claimName(cidr) }
}

function claimName(cidr: Cidr): string {
  return formatCidr(cidr).replace('/', '_')
}

/** This process as a claim's owner: pid and start time (a reused pid has another). */
function self(): string {
  return `${process.pid} ${processStartTime(process.pid)}`
}

/** Whether the owner of a claim still runs. */
function processAlive(owner: string): boolean {
  const [pid, start] = owner.split(' ')
  return isAlive(Number(pid), start)
}

/** Every IPv4 route of the host (all tables, local addresses included), read with `ip`; throws when ip is missing. */
function hostRoutes(): Cidr[] {
  const routes = JSON.parse(execFileSync('ip', ['-j', '-4', 'route', 'show', 'table', 'all']).toString()) as { dst: string }[]
  return routes.filter((r) => r.dst !== 'default').map((r) => toCidr(r.dst))
}

/** "a.b.c.d" or "a.b.c.d/n", host bits allowed. */
function toCidr(dst: string): Cidr {
  const [addr, len = '32'] = dst.split('/')
  const prefix = Number(len)
  return { network: (parseIp(addr) & maskOf(prefix)) >>> 0, prefix }
}
