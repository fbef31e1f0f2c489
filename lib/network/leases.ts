/**
 * Claims that must hold across processes sharing a runtime root: an
 * address on a network, a host port, a network name, a subnet. Each claim
 * is a file created with O_EXCL under `<root>/networks/leases/`, holding
 * the owner's id, so two processes can never win the same one; the
 * in-process queue of the service only orders calls within one process.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { boundedFileName } from '../util/file-name'

/** Claims younger than this are never treated as stale: their owner may still be saving its record. */
const STALE_AFTER_MS = 60_000

/**
 * Whether a claim's owner is gone ({@link Leases.releaseStale}): `now`, a process that no longer runs
 * (free at once); `aged`, no record accounts for it (free once old enough); undefined, it holds.
 */
export type Staleness = 'now' | 'aged' | undefined

/** A directory of claim files. */
export class Leases {
  /** @param dir - where the claim files live (created when missing). */
  constructor(private readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true })
  }

  private file(key: string): string {
    return path.join(this.dir, boundedFileName(key.replace(/[^a-zA-Z0-9_.-]/g, '_')))
  }

  /** Claims `key` for `owner`; false when someone else holds it. Re-claiming one's own key succeeds. */
  claim(key: string, owner: string): boolean {
    try {
      fs.writeFileSync(this.file(key), owner, { flag: 'wx' })
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      return this.owner(key) === owner
    }
  }

  /** Who holds `key`, if anyone. */
  owner(key: string): string | undefined {
    try {
      return fs.readFileSync(this.file(key), 'utf8')
    } catch {
      return undefined
    }
  }

  /** Owners of the claims whose key starts with `prefix` (e.g. networks being created: "name-"). */
  owners(prefix: string): Set<string> {
    const out = new Set<string>()
    for (const f of fs.readdirSync(this.dir)) {
      const owner = f.startsWith(prefix) ? this.ownerOfFile(f) : undefined
      if (owner !== undefined) out.add(owner)
    }
    return out
  }

  /**
   * Hands `key` from `from` to `to` when `from` holds it (false otherwise), rewriting the claim in
   * place: one open and no change to the directory (a new file renamed over it took 0.2-2.6 ms on a
   * loaded machine, 4 µs so). The key is never unclaimed meanwhile; a reader in between may see
   * neither owner, which every reader takes for someone else's claim, never for a free one.
   */
  transfer(key: string, from: string, to: string): boolean {
    let fd: number
    try {
      fd = fs.openSync(this.file(key), 'r+')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
      throw err
    }
    try {
      const held = Buffer.alloc(Buffer.byteLength(from) + 1)
      if (fs.readSync(fd, held, 0, held.length, 0) !== held.length - 1 || held.toString('utf8', 0, held.length - 1) !== from) return false
      const written = fs.writeSync(fd, to, 0)
      fs.ftruncateSync(fd, written)
      return true
    } finally {
      fs.closeSync(fd)
    }
  }

  /** Releases `key` if `owner` holds it. */
  release(key: string, owner: string): void {
    if (this.owner(key) === owner) fs.rmSync(this.file(key), { force: true })
  }

  /** Releases every claim of `owner` but those in `keep`. */
  releaseAll(owner: string, keep: ReadonlySet<string> = new Set()): void {
    const kept = new Set([...keep].map((key) => path.basename(this.file(key))))
    for (const f of fs.readdirSync(this.dir)) if (!kept.has(f) && this.ownerOfFile(f) === owner) fs.rmSync(path.join(this.dir, f), { force: true })
  }

  /**
   * Releases the claims whose owner is gone, as `staleness` tells: at once those of a process that no
   * longer runs (it is making no call), the others once they are old enough not to belong to a call in
   * progress.
   */
  releaseStale(staleness: (owner: string) => Staleness): void {
    const now = Date.now()
    for (const f of fs.readdirSync(this.dir)) {
      const owner = this.ownerOfFile(f)
      const stale = owner === undefined ? undefined : staleness(owner)
      if (stale === 'now') this.removeIfHeldBy(f, owner!)
      if (stale !== 'aged') continue
      const st = fs.statSync(path.join(this.dir, f), { throwIfNoEntry: false })
      if (st && now - st.mtimeMs > STALE_AFTER_MS) this.removeIfHeldBy(f, owner!)
    }
  }

  /**
   * Removes the claim file `f` if `owner` still holds it, read again right before: the checks between the first
   * read and the removal (a /proc lookup of the owner) leave time for another process's collection to free it and
   * a start to claim it anew, a live claim this removal must not take away (the address would go twice).
   */
  private removeIfHeldBy(f: string, owner: string): void {
    if (this.ownerOfFile(f) === owner) fs.rmSync(path.join(this.dir, f), { force: true })
  }

  private ownerOfFile(f: string): string | undefined {
    try {
      return fs.readFileSync(path.join(this.dir, f), 'utf8')
    } catch {
      return undefined
    }
  }
}

/** The claim key of an address on a network. */
export const ipKey = (networkId: string, ip: string): string => `ip-${networkId.slice(0, 16)}-${ip}`
/** The claim key of a host port (any host address: a stricter rule than the kernel's, but safe). */
export const portKey = (proto: string, port: number): string => `port-${proto}-${port}`
/** The claim key of a network name. */
export const nameKey = (name: string): string => `name-${name}`
/** The claim key of a subnet. */
export const subnetKey = (cidr: string): string => `subnet-${cidr}`
