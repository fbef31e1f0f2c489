/**
 * Runs a wait strategy against a container with a deadline: the program
 * exiting first is EEXITED, the deadline passing is ETIMEOUT, both with the
 * last 50 log lines. Log lines wake the strategies that probe.
 *
 * @module
 */
import { ContainerExitedError, WaitTimeoutError } from '../errors'
import { waitFailure } from './wait-failure'
import type { WaitContext, WaitStrategy } from './strategy'
import type { WaitTarget } from './target'
import { stamp } from '../util/start-trace'

/** Options of `c.waitFor()`. */
export interface WaitForOptions {
  /** Milliseconds before ETIMEOUT (default 60 000). */
  timeout?: number
  /** Cancels the wait (rejects with the signal's reason). */
  signal?: AbortSignal
}

/** Default time a container gets to become ready. */
export const defaultStartupTimeout = 60_000

type Outcome = { kind: 'ready' } | { kind: 'timeout' } | { kind: 'exit'; exitCode: number } | { kind: 'cancel'; reason: unknown } | { kind: 'error'; error: unknown }

/** Wakes waiters on every log line. */
class Pulse {
  private waiters = new Set<() => void>()

  wait(maxMs: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.waiters.delete(done)
        signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, maxMs)
      this.waiters.add(done)
      signal.addEventListener('abort', done, { once: true })
    })
  }

  beat(): void {
    for (const w of [...this.waiters]) w()
  }
}

async function pumpLogs(target: WaitTarget, signal: AbortSignal, pulse: Pulse): Promise<void> {
  for await (const _ of target.logLines(signal)) {
    stamp('wait: first log line')
    pulse.beat()
  }
}

/** Waits until `strategy` says the container is ready; throws ETIMEOUT, EEXITED or the strategy's error otherwise. */
export async function waitUntilReady(target: WaitTarget, strategy: WaitStrategy, opts: WaitForOptions = {}): Promise<void> {
  opts.signal?.throwIfAborted()
  stamp('wait: begun')
  const started = Date.now()
  const timeout = opts.timeout ?? defaultStartupTimeout
  const stop = new AbortController()
  const pulse = new Pulse()
  const ctx: WaitContext = { target, signal: stop.signal, changed: (maxMs) => pulse.wait(maxMs, stop.signal) }
  const outcome = await new Promise<Outcome>((settle) => {
    const timer = setTimeout(() => settle({ kind: 'timeout' }), timeout)
    const onCancel = () => settle({ kind: 'cancel', reason: opts.signal?.reason })
    opts.signal?.addEventListener('abort', onCancel, { once: true })
    stop.signal.addEventListener('abort', () => {
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onCancel)
    })
    if (!strategy.awaitsExit) void target.exited().then(({ exitCode }) => settle({ kind: 'exit', exitCode }))
    void pumpLogs(target, stop.signal, pulse).catch(() => {})
    strategy.waitUntilReady(ctx).then(
      () => settle(stop.signal.aborted ? { kind: 'timeout' } : { kind: 'ready' }),
      (error) => settle({ kind: 'error', error }),
    )
  }).finally(() => stop.abort())
  const failure = () => waitFailure(target, strategy.description, started)
  switch (outcome.kind) {
    case 'ready':
      return
    case 'timeout':
      throw new WaitTimeoutError(failure())
    case 'exit':
      throw new ContainerExitedError({ ...failure(), exitCode: outcome.exitCode })
    case 'cancel':
      throw outcome.reason
    case 'error':
      throw outcome.error
  }
}
