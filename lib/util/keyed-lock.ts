/**
 * One lock per key (a digest), held across processes that share a runtime
 * root: an in-process queue so callers of one process wait on a promise, and
 * a lock the kernel keeps so other processes wait too: by default an open
 * file description lock on one byte of `<dir>/.keyed-locks` (the key's hash
 * picks the byte), so a lock makes and deletes no file (a build took one per
 * step and per layer, and each file's creation and deletion cost more than
 * the rest of the lock on a busy ext4); with `existing`, an flock(2) of
 * `<dir>/<key>`. The kernel drops either when its holder dies, so a killed
 * unpack never wedges the next.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { boundedFileName } from './file-name'
import { setTimeout as sleep } from 'node:timers/promises'
import { tryLockByte, tryLockExclusive, unlockByte, unlockFile } from '../sys/libc'

/** The file whose bytes are the keys' locks (no key's file name starts with a dot: keys are digests and names). */
const sharedFile = '.keyed-locks'

/** Longest pause between two attempts at a lock another process holds. */
const maxBackoffMs = 50

/** Keyed mutual exclusion across the processes sharing `dir`. */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>()

  /**
   * @param dir - where the lock files are
   * @param opts - `existing`: each key names a file or directory that exists already (flock'd read-only, never
   *   created: a key whose file is gone fails ENOENT); by default a byte of the directory's shared lock file
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
    if (this.opts.existing) return this.holdingExisting(key, fn)
    const fd = fs.openSync(path.join(this.dir, sharedFile), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600)
    const byte = byteOf(key)
    try {
      await untilTaken(() => tryLockByte(fd, byte))
      try {
        return await fn()
      } finally {
        unlockByte(fd, byte)
      }
    } finally {
      fs.closeSync(fd) // drops the lock too, had the unlock failed
    }
  }

  /** `fn` holding the flock of the existing `<dir>/<key>` (a key whose file is gone fails ENOENT). */
  private async holdingExisting<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const fd = fs.openSync(path.join(this.dir, boundedFileName(key)), fs.constants.O_RDONLY)
    try {
      await untilTaken(() => tryLockExclusive(fd))
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

/** Retries `tryLock` (another process holds the lock) with a backoff until it succeeds. */
async function untilTaken(tryLock: () => boolean): Promise<void> {
  for (let wait = 1; !tryLock(); wait = Math.min(wait * 2, maxBackoffMs)) await sleep(wait)
}

/** The byte of the shared file that is `key`'s lock: 48 bits of its hash (a number exactly), so two keys held at once share one only by a 2^-48 chance, and then merely wait for each other. */
function byteOf(key: string): number {
  return parseInt(createHash('sha256').update(key).digest('hex').slice(0, 12), 16)
}
