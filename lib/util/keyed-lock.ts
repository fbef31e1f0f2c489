/**
 * One lock per key (a digest), held across processes that share a runtime
 * root: an in-process queue so callers of one process wait on a promise, and
 * an flock(2) on `<dir>/<key>` so other processes wait too. The kernel drops
 * the flock when its holder dies, so a killed unpack never wedges the next.
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
    // Lock files stay: deleting one would let a waiter lock an unlinked inode while a newcomer locks a new file.
    const flags = this.opts.existing ? fs.constants.O_RDONLY : fs.constants.O_RDWR | fs.constants.O_CREAT
    const fd = fs.openSync(path.join(this.dir, boundedFileName(key)), flags, 0o600)
    try {
      for (let wait = 1; !tryLockExclusive(fd); wait = Math.min(wait * 2, maxBackoffMs)) await sleep(wait)
      try {
        return await fn()
      } finally {
        unlockFile(fd)
      }
    } finally {
      fs.closeSync(fd)
    }
  }
}
