/**
 * Waits that an AbortSignal may cut short: a start's program start (then
 * killed) and its container's layer lock (then let go as soon as it comes),
 * and a container's exit (then killed).
 *
 * @module
 */
import { AbortedError, throwIfAborted } from '../errors'
import type { ExitStatus, Shim } from '../shim/shim'

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

/** What {@link exitUnlessAborted} needs of a container (structural: Container imports this module). */
interface Ending {
  wait(): Promise<ExitStatus>
  kill(signal: 'SIGKILL'): Promise<void>
}

/**
 * The container's exit; EABORTED (`what` named) once `signal` fires while it runs, the container killed
 * first (without that, an aborted build went on waiting for the command's end).
 */
export async function exitUnlessAborted(container: Ending, signal: AbortSignal | undefined, what: string): Promise<ExitStatus> {
  const kill = () => void container.kill('SIGKILL').catch(() => {}) // it may have exited meanwhile
  signal?.addEventListener('abort', kill, { once: true })
  try {
    if (signal?.aborted) kill() // fired between the start and here
    const exit = await container.wait()
    throwIfAborted(signal, what)
    return exit
  } finally {
    signal?.removeEventListener('abort', kill)
  }
}
