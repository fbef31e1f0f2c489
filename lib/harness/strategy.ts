/**
 * The contract of a wait strategy, in the manner of testcontainers-node's
 * wait-strategies/: one small class per way of telling that a container is
 * ready.
 *
 * @module
 */
import type { WaitTarget } from './target'

/** What a strategy gets while it waits. */
export interface WaitContext {
  /** The container being waited for. */
  target: WaitTarget
  /** Aborted when the wait is over (ready elsewhere, timeout, exit or the caller's signal). */
  signal: AbortSignal
  /**
   * Resolves at the next sign of life (a log line), after `maxMs`, or when
   * the wait is aborted, whichever comes first: strategies that must probe
   * re-check on events instead of sleeping a fixed time.
   */
  changed(maxMs: number): Promise<void>
}

/** A way of telling that a container is ready. */
export interface WaitStrategy {
  /** What is awaited, for messages ("listening ports 6379/tcp"). */
  readonly description: string
  /** True when the awaited event is the program's exit (then exiting is not a failure). */
  readonly awaitsExit: boolean
  /** Resolves once ready; rejects with a MiniContainerError when it can never be. Stops when `ctx.signal` aborts. */
  waitUntilReady(ctx: WaitContext): Promise<void>
}

/** Probing delays that start tight (readiness seen within a few ms) and back off to `max`. */
export function* backoff(first: number, max: number): Generator<number, never> {
  for (let d = first; ; d = Math.min(max, d * 2)) yield d
}

/** Resolves when `signal` aborts: for strategies whose source ran dry (the program ended) without readiness. */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve()
    else signal.addEventListener('abort', () => resolve(), { once: true })
  })
}
