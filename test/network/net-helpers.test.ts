/**
 * The test-subnet claims (test/net-helpers.ts) that keep concurrent suites
 * apart: distinct across processes, never a subnet the host routes, and a
 * dead process's claims taken over. A bridge with an address (no traffic)
 * stands in for another suite's.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { claimSubnet, claimSubnets, releaseSubnets, testClaimDir, type TestSubnet } from '../net-helpers'
import { spawnNode } from '../tools/node-child'
import { hostLinks } from './helpers'

const helpers = path.resolve(__dirname, '../net-helpers')

/** A child process that claims `count` subnets, reports them and waits to be killed. */
async function claimingChild(count: number) {
  const child = spawnNode(`const s = require(${JSON.stringify(helpers)}).claimSubnets(${count}); console.log(JSON.stringify(s.map((x) => x.cidr))); setInterval(() => {}, 1000)`, { stdio: ['ignore', 'pipe', 'inherit'] })
  const cidrs = await new Promise<string[]>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()) as string[]))
    child.once('exit', (code) => reject(new Error(`claiming child exited with ${code}`)))
  })
  return { cidrs, kill: () => new Promise((r) => (child.kill('SIGKILL'), child.once('exit', r))) }
}

test("claims are distinct across processes; a live process's claim is refused, a dead one's taken over", async () => {
  const other = await claimingChild(2)
  const mine = claimSubnets(2)
  try {
    expect(new Set([...other.cidrs, ...mine.map((s) => s.cidr)]).size).toBe(4)
    expect(claimSubnet(other.cidrs[0])).toBeUndefined()
    await other.kill()
    const taken = claimSubnet(other.cidrs[0])
    expect(taken?.cidr).toBe(other.cidrs[0])
    mine.push(taken!, claimSubnet(other.cidrs[1])!) // the killed child's other claim, to release it
    expect(fs.readFileSync(path.join(testClaimDir, taken!.claimName), 'utf8')).toMatch(new RegExp(`^${process.pid} \\d+$`))
  } finally {
    releaseSubnets(mine)
  }
  for (const s of mine) expect(fs.existsSync(path.join(testClaimDir, s.claimName))).toBe(false)
})

test("a subnet the host routes (another suite's bridge) is never handed out", () => {
  const link = `mct${randomBytes(3).toString('hex')}d`
  const [routed] = claimSubnets(1)
  let next: TestSubnet[] = []
  try {
    execFileSync('ip', ['link', 'add', link, 'type', 'bridge'])
    execFileSync('ip', ['addr', 'add', `${routed.host(1)}/24`, 'dev', link])
    execFileSync('ip', ['link', 'set', link, 'up'])
    releaseSubnets([routed]) // unclaimed now, but routed
    next = claimSubnets(3)
    expect(next.map((s) => s.cidr)).not.toContain(routed.cidr)
  } finally {
    releaseSubnets([routed, ...next])
    if (hostLinks(link).length) execFileSync('ip', ['link', 'del', link])
  }
  expect(hostLinks(link)).toEqual([])
})
