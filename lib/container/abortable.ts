/**
 * A start's waits that its AbortSignal may cut short: the program's start
 * (then killed) and the container's layer lock (then let go as soon as it comes).
 *
 * @module
 */
import { AbortedError } from '../errors'
import type { Shim } from '../shim/shim'

/** `started`, unless `signal` fires first: then the shim (and the program) is killed, and the result is EABORTED once it is gone. */
export function untilAborted(started: Promise<number>, signal: AbortSignal | undefined, what: string, shim: Shim): Promise<number> {
  if (!signal) return started
  return new Promise((resolve, reject) => {
    let aborted = false
    const onAbort = () => {
      aborted = true
      shim.kill()
      void shim.closed.then(() => reject(new AbortedError(what, signal.reason)))
    }
    signal.addEventListener('abort', onAbort, { once: true })
    started
      .then((pid) => !aborted && resolve(pid), (err) => !aborted && reject(err))
      .finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/** `locked`, unless `signal` fires first: then EABORTED, and the lock is let go as soon as it comes. */
export function lockUnlessAborted(locked: Promise<() => void>, signal: AbortSignal | undefined, what: string): Promise<() => void> {
  if (!signal) return locked
  return new Promise((resolve, reject) => {
    let settled = false
    const settle = (done: () => void) => {
      if (settled) return
      settled = true
      signal.removeEventListener('abort', onAbort)
      done()
    }
    const onAbort = () =>
      settle(() => {
        reject(new AbortedError(what, signal.reason))
        locked.then((unlock) => unlock(), () => {})
      })
    signal.addEventListener('abort', onAbort, { once: true })
    if (signal.aborted) onAbort()
    locked.then(
      (unlock) => settle(() => resolve(unlock)),
      (err) => settle(() => reject(err)),
    )
  })
}
