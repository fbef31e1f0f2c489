/**
 * A signal to a process that may have ended already: the kill paths of
 * helpers, shims and relays, where a process gone meanwhile is the outcome
 * wanted, not a failure.
 *
 * @module
 */

/** Sends `signal` to `pid` (a negative pid: its process group); a failure (ESRCH: it ended already) is ignored. */
export function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal)
  } catch {
    /* already gone */
  }
}
