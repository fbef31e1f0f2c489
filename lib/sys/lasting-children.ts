/**
 * Children reaped by the native thread that lives as long as the process (native/spawn.c), not by
 * the JavaScript thread that spawned them: a helper started from a worker_thread (a port relay, an
 * egress helper) runs on once that worker ended, and when it ends later no event loop is left to
 * reap it; it would stay a zombie of the process for good.
 *
 * @module
 */
import { Socket } from 'node:net'
import { checkNegErrno, nativeFunctions } from './libc'

const calls = nativeFunctions({
  adopt: 'int mc_lasting_adopt(int pid, int held)',
  end: 'int mc_lasting_end(int token, int sig)',
  reaped: 'int mc_lasting_reaped(int token)',
  watch: 'int mc_lasting_watch(int token)',
})

const SIGTERM = 15
const ESRCH = 3
/** How soon {@link LastingChild.reaped} asks again when it could not make its pipe. */
const retryMs = 2

/** A child handed to the lasting thread: it is reaped there once it ends, whichever thread is left. */
export interface LastingChild {
  /**
   * Lets it go: its held socket (the one given to {@link adoptChild}) is shut down for writing, so its
   * end reads EOF (ours, and its copies, read EOF once it exits), and with `terminate` it is sent
   * SIGTERM through its pidfd (never to a process that took its pid). Does nothing once it was reaped.
   */
  end(terminate: boolean): void
  /**
   * Resolves once the lasting thread reaped it: at once when it was, else when a pipe the thread
   * closes as it reaps reads EOF (watched by the event loop, so no timer asks meanwhile).
   */
  reaped(): Promise<void>
}

/**
 * Hands child `pid`, not reaped yet, to the lasting thread, with `held` (our end of its control
 * socket, or -1), which is closed when the child is reaped: from now on nothing may wait for it by
 * its pid, nor close `held`.
 */
export function adoptChild(pid: number, held: number): LastingChild {
  const token = checkNegErrno(calls().adopt(pid, held), 'pidfd_open', String(pid))
  /** The one watch of its reap (the thread keeps one pipe per child), shared by every reaped() meanwhile. */
  let watching: Promise<void> | undefined
  const reaped = (): Promise<void> => {
    if (calls().reaped(token)) return Promise.resolve()
    return (watching ??= watchReap(token).finally(() => (watching = undefined)))
  }
  return {
    end(terminate) {
      calls().end(token, terminate ? SIGTERM : 0)
    },
    reaped,
  }
}

/** Resolves once the child of `token` was reaped: its pipe's read end reads EOF (at once when it was reaped already). */
function watchReap(token: number): Promise<void> {
  const fd = calls().watch(token)
  if (fd === -ESRCH) return Promise.resolve()
  // Without a pipe (no fd left): asked again a moment later.
  if (fd < 0) return new Promise((resolve) => setTimeout(resolve, retryMs)).then(() => (calls().reaped(token) ? undefined : watchReap(token)))
  const watch = new Socket({ fd, readable: true, writable: false })
  return new Promise((resolve) => {
    watch.once('close', () => resolve())
    watch.on('error', () => watch.destroy())
    watch.resume()
  })
}
