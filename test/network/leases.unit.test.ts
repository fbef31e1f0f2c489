/**
 * Handing a claim over (lib/network/leases.ts transfer), as a warm
 * endpoint's address passes to the container that takes it: only from its
 * holder, rewritten in place, never creating a claim that was given up.
 * Real files in a scratch directory.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Leases } from '../../lib/network/leases'

let dir: string
let leases: Leases

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-leases-'))
  leases = new Leases(dir)
})

afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

test('a claim passes from its holder to the new owner, whose own it then is, in the same file', () => {
  const warm = 'warm-123-456-0123456789ab'
  const container = 'c'.repeat(64)
  expect(leases.claim('ip-net-10.0.0.3', warm)).toBe(true)
  const [file] = fs.readdirSync(dir)
  const inode = fs.statSync(path.join(dir, file)).ino
  expect(leases.transfer('ip-net-10.0.0.3', warm, container)).toBe(true)
  expect(leases.owner('ip-net-10.0.0.3')).toBe(container)
  expect(fs.statSync(path.join(dir, file)).ino).toBe(inode)
  expect(leases.claim('ip-net-10.0.0.3', warm)).toBe(false)
  // Back to a shorter owner: nothing of the longer one is left.
  expect(leases.transfer('ip-net-10.0.0.3', container, 'short')).toBe(true)
  expect(leases.owner('ip-net-10.0.0.3')).toBe('short')
})

test('only the holder hands a claim over; a claim given up is not made again', () => {
  expect(leases.claim('ip-net-10.0.0.4', 'holder')).toBe(true)
  expect(leases.transfer('ip-net-10.0.0.4', 'hold', 'thief')).toBe(false)
  expect(leases.transfer('ip-net-10.0.0.4', 'holder-not', 'thief')).toBe(false)
  expect(leases.owner('ip-net-10.0.0.4')).toBe('holder')
  leases.release('ip-net-10.0.0.4', 'holder')
  expect(leases.transfer('ip-net-10.0.0.4', 'holder', 'late')).toBe(false)
  expect(fs.readdirSync(dir)).toEqual([])
})

test("a dead process's claim is released by one collector only: a claim made again meanwhile (another process's collection freed it, a start took it) survives the other collector", () => {
  const dead = 'warm-999999-1-0123456789ab'
  const container = 'c'.repeat(64)
  expect(leases.claim('ip-net-10.0.0.5', dead)).toBe(true)
  // Two runtimes collect at once: while this one asks /proc whether the owner runs, the other one
  // has already freed the claim and a start of a third process has claimed the address.
  const isDead = (owner: string) => {
    if (owner === dead && leases.owner('ip-net-10.0.0.5') === dead) {
      new Leases(dir).releaseStale(() => 'now')
      expect(new Leases(dir).claim('ip-net-10.0.0.5', container)).toBe(true)
    }
    return owner === dead
  }
  leases.releaseStale((owner) => (isDead(owner) ? 'now' : undefined))
  expect(leases.owner('ip-net-10.0.0.5')).toBe(container)
})
