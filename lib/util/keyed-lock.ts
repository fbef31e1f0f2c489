/**
 * One lock per key (a digest), held across processes that share a runtime
 * root: an in-process queue so callers of one process wait on a promise, and
 * an flock(2) on `<dir>/<key>` so other processes wait too. The kernel drops
 * the flock when its holder dies, so a killed unpack never wedges the next.
 * A lock file made here is removed once released, in the background, unless
 * held again by then (a build took one per step and per layer, and kept them
 * all); a killed holder's stays until that key is next locked.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { boundedFileName } from './file-name'
import { setTimeout as sleep } from 'node:timers/promises'
import { tryLockExclusive, unlockFile } from '../sys/libc'
import { PendingWork } from './pending-work'

/** Longest pause between two attempts at a lock another process holds. */
const maxBackoffMs = 50

/** Keyed mutual exclusion across the processes sharing `dir`. */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>()

  /**
   * @param dir - where the lock files are
   * @param opts - `existing`: each key names a file or directory that exists already (locked read-only, never
   *   created: a key whose file is gone fails ENOENT); by default each key's lock file is made when first needed
   */
  constructor(
    private readonly dir: string,
    private readonly opts: { existing?: boolean } = {},
  ) {
    fs.mkdirSync(dir, { recursive: true })
  }

  /** Runs `fn` while holding the lock of `key`; callers with one key run one at a time. */
  async with<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve()
    const run = before.catch(() => {}).then(() => this.holdingFile(key, fn))
    const tail = run.catch(() => {})
    this.tails.set(key, tail)
    try {
      return await run
    } finally {
      // The last waiter forgets the key, so the map does not grow with every digest ever seen.
      if (this.tails.get(key) === tail) this.tails.delete(key)
    }
  }

  /** Takes the lock of `key` until the returned function is called: for holds that outlive one call. */
  acquire(key: string): Promise<() => void> {
    return new Promise((resolve, reject) => {
      this.with(key, () => new Promise<void>((release) => resolve(release))).catch(reject)
    })
  }

  /** Resolves once the lock files released so far were removed (or found held again: their next holder removes them). */
  settled(): Promise<void> {
    return this.removals.settled()
  }

  /** Removals of released lock files, in the background. */
  private readonly removals = new PendingWork()

  private async holdingFile<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const file = path.join(this.dir, boundedFileName(key))
    const fd = await this.lockedFd(file)
    try {
      return await fn()
    } finally {
      unlockFile(fd)
      fs.closeSync(fd)
      // Removed after the unlock, not before it: the holder's caller does not wait for the unlink (1 ms or more on a
      // loaded disk, per step and per layer of a build), and lockedFd's inode check makes a later removal as safe.
      if (!this.opts.existing) void this.removals.track(removeUnheld(file))
    }
  }

  /**
   * An fd of `file` holding its flock. A made lock file is removed once released (removeUnheld), so a lock
   * won on an inode no longer at `file` is no lock at all: then it starts over (a new file).
   */
  private async lockedFd(file: string): Promise<number> {
    const flags = this.opts.existing ? fs.constants.O_RDONLY : fs.constants.O_RDWR | fs.constants.O_CREAT
    for (;;) {
      const fd = fs.openSync(file, flags, 0o600)
      let held: boolean
      try {
        for (let wait = 1; !tryLockExclusive(fd); wait = Math.min(wait * 2, maxBackoffMs)) await sleep(wait)
        held = this.opts.existing || sameInode(fd, file)
      } catch (err) {
        fs.closeSync(fd) // a lock that cannot be checked is dropped, not kept blocking the key
        throw err
      }
      if (held) return fd
      fs.closeSync(fd) // closing drops the flock
    }
  }
}

/**
 * Removes the lock file `file` unless someone holds it (then its holder removes it when done): locked first, so
 * a process that opened it meanwhile and wins its flock next finds the inode unlinked, and starts over. Never throws.
 */
async function removeUnheld(file: string): Promise<void> {
  await new Promise(setImmediate) // after the releasing caller's turn
  let fd: number
  try {
    fd = fs.openSync(file, fs.constants.O_RDWR)
  } catch {
    return // removed already (by another process's removal), or the root is gone
  }
  try {
    if (tryLockExclusive(fd) && sameInode(fd, file)) await fs.promises.rm(file, { force: true })
  } catch {
    /* left for the key's next holder */
  } finally {
    fs.closeSync(fd) // drops the flock, after the unlink
  }
}

/** Whether `file` is still the inode open as `fd` (not unlinked, nor replaced by a newer lock file). */
function sameInode(fd: number, file: string): boolean {
  const open = fs.fstatSync(fd)
  const named = fs.statSync(file, { throwIfNoEntry: false })
  return !!named && named.ino === open.ino && named.dev === open.dev
}
