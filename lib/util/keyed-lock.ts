/**
 * One lock per key (a digest), held across processes that share a runtime
 * root: an in-process queue so callers of one process wait on a promise, and
 * an flock(2) on `<dir>/<key>` so other processes wait too. The kernel drops
 * the flock when its holder dies, so a killed unpack never wedges the next.
 * A lock file made here is removed by its holder before it unlocks (a build
 * took one per step and per layer, and kept them all); a killed holder's
 * stays until that key is next locked.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { boundedFileName } from './file-name'
import { setTimeout as sleep } from 'node:timers/promises'
import { tryLockExclusive, unlockFile } from '../sys/libc'

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

  private async holdingFile<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const file = path.join(this.dir, boundedFileName(key))
    const fd = await this.lockedFd(file)
    try {
      return await fn()
    } finally {
      // Unlinked while still locked: a waiter that opened this inode finds it unlinked once it gets the lock,
      // and starts over on the path (lockedFd), so the files do not grow with every key ever locked.
      try {
        if (!this.opts.existing) fs.rmSync(file, { force: true })
      } finally {
        unlockFile(fd)
        fs.closeSync(fd)
      }
    }
  }

  /**
   * An fd of `file` holding its flock. A made lock file is removed by its holder when done (holdingFile),
   * so a lock won on an inode no longer at `file` is no lock at all: then it starts over (a new file).
   */
  private async lockedFd(file: string): Promise<number> {
    const flags = this.opts.existing ? fs.constants.O_RDONLY : fs.constants.O_RDWR | fs.constants.O_CREAT
    for (;;) {
      const fd = fs.openSync(file, flags, 0o600)
      try {
        for (let wait = 1; !tryLockExclusive(fd); wait = Math.min(wait * 2, maxBackoffMs)) await sleep(wait)
      } catch (err) {
        fs.closeSync(fd)
        throw err
      }
      if (this.opts.existing || sameInode(fd, file)) return fd
      fs.closeSync(fd) // closing drops the flock
    }
  }
}

/** Whether `file` is still the inode open as `fd` (not unlinked, nor replaced by a newer lock file). */
function sameInode(fd: number, file: string): boolean {
  const open = fs.fstatSync(fd)
  const named = fs.statSync(file, { throwIfNoEntry: false })
  return !!named && named.ino === open.ino && named.dev === open.dev
}
