/**
 * Durations written as Go's time.Duration prints them ("100ms", "1.5s",
 * "1m30s", "1h0m0s"), for messages that must read as Docker's.
 *
 * @module
 */

/** Trailing zeros of a fraction dropped, and the point too when nothing is left: 1.500 -> "1.5", 2.000 -> "2". */
function trimmed(value: number, decimals: number): string {
  return value.toFixed(decimals).replace(/\.?0+$/, '')
}

/** `ms` milliseconds as Go's `%v` of a time.Duration. */
export function goDuration(ms: number): string {
  const ns = Math.round(ms * 1e6)
  if (ns === 0) return '0s'
  if (ns < 1e3) return `${ns}ns`
  if (ns < 1e6) return `${trimmed(ns / 1e3, 3)}µs`
  if (ns < 1e9) return `${trimmed(ns / 1e6, 6)}ms`
  const hours = Math.floor(ns / 3600e9)
  const minutes = Math.floor((ns % 3600e9) / 60e9)
  const seconds = `${trimmed((ns % 60e9) / 1e9, 9)}s`
  if (hours) return `${hours}h${minutes}m${seconds}`
  if (minutes) return `${minutes}m${seconds}`
  return seconds
}

const unitNs: Readonly<Record<string, number>> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 }

/** Go's time.ParseDuration ("1m30s", "200ms", "-1.5h", ".5s", "0"), in nanoseconds; undefined when `text` is not a duration. */
export function parseGoDuration(text: string): number | undefined {
  const m = /^([-+]?)(?:0|((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/.exec(text)
  if (!m) return undefined
  let total = 0
  for (const [, value, unit] of text.slice(m[1].length).matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) total += Number(value) * unitNs[unit]
  return m[1] === '-' ? -total : total
}
