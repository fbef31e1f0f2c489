/**
 * The `healthcheck` option: validating it and merging it over the image's
 * HEALTHCHECK, with Docker's defaults. Durations are milliseconds here (as
 * in testcontainers); the image config keeps Docker's nanoseconds.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import type { Healthcheck } from '../image/store'

/** `healthcheck` of run(): Docker's HEALTHCHECK, durations in milliseconds. */
export interface HealthConfig {
  /**
   * `['CMD', prog, ...args]` runs the program, `['CMD-SHELL', 'script']` runs
   * it with /bin/sh -c, `['NONE']` disables an image's check.
   */
  test: string[]
  /** Time between checks once the start period is over (ms, default 30 000). */
  interval?: number
  /** A check taking longer fails (ms, default 30 000). */
  timeout?: number
  /** Consecutive failures that make the container unhealthy (default 3). */
  retries?: number
  /** Failures during this time after start do not count (ms, default 0). */
  startPeriod?: number
  /** Time between checks during the start period (ms, default 5 000). */
  startInterval?: number
}

/** A health check with every field set. */
export type ResolvedHealthConfig = Required<HealthConfig>

const defaults = { interval: 30_000, timeout: 30_000, retries: 3, startPeriod: 0, startInterval: 5_000 }

/** Throws EINVALID for a malformed `healthcheck` option. */
export function checkHealthConfig(h: Partial<HealthConfig> | undefined): void {
  if (h === undefined) return
  if (h.test !== undefined) {
    const [kind, ...rest] = h.test
    const ok = Array.isArray(h.test) && h.test.every((a) => typeof a === 'string') &&
      ((kind === 'CMD' && rest.length > 0) || (kind === 'CMD-SHELL' && rest.length === 1) || (kind === 'NONE' && rest.length === 0))
    if (!ok) throw new InvalidArgumentError(`invalid healthcheck.test ${JSON.stringify(h.test)}: use ['CMD', 'prog', ...args], ['CMD-SHELL', 'shell command'] or ['NONE']`)
  }
  for (const key of ['interval', 'timeout', 'retries', 'startPeriod', 'startInterval'] as const) {
    const v = h[key]
    if (v !== undefined && (!Number.isFinite(v) || v < 0 || ((key === 'interval' || key === 'timeout' || key === 'retries') && v === 0)))
      throw new InvalidArgumentError(`invalid healthcheck.${key} ${v}: ${key === 'retries' ? 'a count of at least 1' : 'milliseconds, e.g. 1000'}`)
  }
}

const nsPerMs = 1e6

/** The option over the image's check, in Docker's form (nanoseconds), as the container record keeps it. */
export function mergeHealthcheck(option: Partial<HealthConfig> | undefined, image: Healthcheck | undefined): Healthcheck | undefined {
  const ns = (ms: number | undefined) => (ms === undefined ? undefined : Math.round(ms * nsPerMs))
  const fromOption: Partial<Healthcheck> = option
    ? { test: option.test, interval: ns(option.interval), timeout: ns(option.timeout), startPeriod: ns(option.startPeriod), startInterval: ns(option.startInterval), retries: option.retries }
    : {}
  const merged = { ...image, ...Object.fromEntries(Object.entries(fromOption).filter(([, v]) => v !== undefined)) }
  return merged.test ? (merged as Healthcheck) : undefined
}

/** The check to run, in milliseconds with Docker's defaults for what is unset (0 means unset, as in Docker); undefined for none or NONE. */
export function resolveHealthConfig(h: Healthcheck | undefined): ResolvedHealthConfig | undefined {
  if (!h?.test || h.test[0] === 'NONE') return undefined
  const ms = (v: number | undefined, d: number) => (v ? v / nsPerMs : d)
  return {
    test: h.test,
    interval: ms(h.interval, defaults.interval),
    timeout: ms(h.timeout, defaults.timeout),
    startPeriod: ms(h.startPeriod, defaults.startPeriod),
    startInterval: ms(h.startInterval, defaults.startInterval),
    retries: h.retries || defaults.retries,
  }
}

/** The command a check runs: CMD as given, CMD-SHELL through /bin/sh -c. */
export function healthCommand(test: string[]): string[] {
  return test[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', test[1]] : test.slice(1)
}
