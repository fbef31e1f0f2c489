/**
 * A short critical section shared by every process of a runtime root, taken
 * synchronously: an flock(2) on one file. For sections of a few syscalls
 * that already run on the event loop (a name's claim), where KeyedLock's
 * promise would turn a synchronous API asynchronous. The kernel drops the
 * flock when its holder dies, so a killed holder never wedges the next.
 *
 * @module
 */
import * as fs from 'node:fs'
import { SyscallError } from '../errors'
import { closeQuietly, openFd, tryLockExclusive, unlockFile } from '../sys/libc'

/** Longest pause, in ms, between two attempts at the lock another process holds (it holds it for microseconds). */
const maxPauseMs = 5

/**
 * How long to wait for the lock before giving up: its holders keep it for microseconds, so only a holder
 * that is stopped (SIGSTOP, a frozen cgroup) keeps it longer, and this wait blocks the whole thread.
 */
const giveUpMs = 5_000

/** Blocks this thread for `ms` milliseconds (fractions allowed). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

/**
 * Runs `fn` holding the flock of `file` (created when missing, and left in place: it is the lock). Throws
 * ESYSCALL (flock ETIMEDOUT) when another process has held it for 5 s: find it with `fuser <file>`.
 */
export function withFileLockSync<T>(file: string, fn: () => T): T {
  const fd = openFd(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600)
  try {
    const giveUpAt = Date.now() + giveUpMs
    for (let wait = 0.05; !tryLockExclusive(fd); wait = Math.min(wait * 2, maxPauseMs)) {
      if (Date.now() > giveUpAt) throw new SyscallError('flock', 'ETIMEDOUT', `${file} (held 5 s by another process: is it stopped? fuser ${file})`)
      pause(wait)
    }
    try {
      return fn()
    } finally {
      unlockFile(fd)
    }
  } finally {
    closeQuietly(fd) // would drop the flock too
  }
}
