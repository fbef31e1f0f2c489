/**
 * The start path's step times, for `npm run bench -- start --breakdown`:
 * while a trace is open, the start path stamps each step it passes (first
 * stamp of a name wins) on process.hrtime's clock, CLOCK_MONOTONIC, the
 * clock the shim stamps its own steps on. One trace at a time, for one
 * container started alone; closed, a stamp is one comparison.
 *
 * Internal: not exported from the package's index.
 *
 * @module
 */

/** Step name to CLOCK_MONOTONIC nanoseconds. */
export type StepTimes = Map<string, bigint>

let open: StepTimes | undefined

/** Opens a trace; the steps stamped until {@link closeTrace} land in the returned map. */
export function openTrace(): StepTimes {
  open = new Map()
  return open
}

/** Closes the open trace: stamps are dropped again. */
export function closeTrace(): void {
  open = undefined
}

/** Stamps `step` (now, or at `ns` for a time the shim took) when a trace is open. */
export function stamp(step: string, ns?: bigint): void {
  if (open && !open.has(step)) open.set(step, ns ?? process.hrtime.bigint())
}

/** Whether a trace is open (to skip work only a trace needs). */
export function tracing(): boolean {
  return open !== undefined
}
