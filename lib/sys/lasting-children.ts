/**
 * Children reaped by the native thread that lives as long as the process (native/spawn.c), not by
 * the JavaScript thread that spawned them: a helper started from a worker_thread (a port relay, an
 * egress helper) runs on once that worker ended, and when it ends later no event loop is left to
 * reap it; it would stay a zombie of the process for good.
 *
 * @module
 */
import { checkNegErrno, nativeFunctions } from './libc'

const calls = nativeFunctions({
  adopt: 'int mc_lasting_adopt(int pid, int held)',
  end: 'int mc_lasting_end(int token, int sig)',
  reaped: 'int mc_lasting_reaped(int token)',
})

const SIGTERM = 15
/** How often {@link LastingChild.reaped} asks: a child whose fds closed is reaped a moment later. */
const reapedPollMs = 2

/** A child handed to the lasting thread: it is reaped there once it ends, whichever thread is left. */
export interface LastingChild {
  /**
   * Lets it go: its held socket (the one given to {@link adoptChild}) is shut down for writing, so its
   * end reads EOF (ours, and its copies, read EOF once it exits), and with `terminate` it is sent
   * SIGTERM through its pidfd (never to a process that took its pid). Does nothing once it was reaped.
   */
  end(terminate: boolean): void
  /**
   * Resolves once the lasting thread reaped it. Asked by a timer, since its pidfd is that thread's and
   * no event loop handle watches a pidfd: meant for a child known to be exiting (its end of a socket
   * closed, which happens before the exit completes), not to wait out a running one.
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
  return {
    end(terminate) {
      calls().end(token, terminate ? SIGTERM : 0)
    },
    reaped() {
      return new Promise((resolve) => {
        const ask = (): unknown => (calls().reaped(token) ? resolve() : setTimeout(ask, reapedPollMs))
        ask()
      })
    },
  }
}
