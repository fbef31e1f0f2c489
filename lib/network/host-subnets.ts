/**
 * Subnet claims that hold across runtimes: two runtime roots on one host
 * (two test files, two apps) must never pick the same subnet, even at the
 * same instant, before either bridge has a route to show for it.
 *
 * A claim is a file created with O_EXCL in a host-wide directory, naming
 * the owning network's record file. A claim whose record no longer exists
 * (its network or root was removed) is stale and may be taken over.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { ownerRecords } from '../util/owner-records'

/** Where host-wide claims live; a tmpfs on most systems, so they vanish with the bridges at reboot. */
export const hostClaimDir = process.env.MINICONTAINER_HOST_STATE ?? '/run/minicontainer-host/subnets'

/** Claims younger than this are not stale while their runtime exists: the owner may still be writing its record. */
const GRACE_MS = 30_000

function claimFile(cidr: string): string {
  return path.join(hostClaimDir, cidr.replace('/', '_'))
}

/** Claims `cidr` for the network whose record is `recordFile`; false when a live network elsewhere holds it. */
export function claimHostSubnet(cidr: string, recordFile: string): boolean {
  fs.mkdirSync(hostClaimDir, { recursive: true })
  const file = claimFile(cidr)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, recordFile, { flag: 'wx' })
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    let owner: string
    let age: number
    try {
      owner = fs.readFileSync(file, 'utf8')
      age = Date.now() - fs.statSync(file).mtimeMs
    } catch {
      continue // released meanwhile: try again
    }
    if (owner === recordFile) return true
    if (!isStale(owner, age)) return false
    fs.rmSync(file, { force: true }) // stale: its network is gone
  }
  return false
}

/** Stale once its runtime's network directory is gone, or its record never appeared in time. */
function isStale(owner: string, ageMs: number): boolean {
  return !fs.existsSync(path.dirname(owner)) || (ageMs >= GRACE_MS && !fs.existsSync(owner))
}

/** Removes every stale claim (runtime root or network gone); returns the subnets freed. */
export function collectStaleHostSubnets(): string[] {
  const stale = ownerRecords(hostClaimDir).filter((r) => isStale(r.owner, r.ageMs))
  for (const r of stale) fs.rmSync(r.file, { force: true })
  return stale.map((r) => r.name.replace('_', '/'))
}

/** Releases the claim on `cidr` if `recordFile` holds it. */
export function releaseHostSubnet(cidr: string, recordFile: string): void {
  try {
    if (fs.readFileSync(claimFile(cidr), 'utf8') === recordFile) fs.rmSync(claimFile(cidr), { force: true })
  } catch {
    /* not claimed */
  }
}
