/**
 * Times for `logs({ since, until })` as Docker takes them (`docker logs
 * --since`): a Date, unix seconds, a duration before now ("10m", "1h30m"),
 * an RFC 3339 time with or without fraction and zone (without a zone:
 * local time), or unix seconds as a string ("1733060000.5"). They become
 * the fixed-width RFC 3339 form of the log's records (nine fraction digits,
 * UTC), which compares as text in time order.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import { parseGoDuration } from './go-duration'

/** What `since` and `until` accept. */
export type LogTime = Date | number | string

const nsPerMs = 1_000_000n
const nsPerSecond = 1_000_000_000n

/** A record's time for nanoseconds since the epoch. */
export function formatLogTime(ns: bigint): string {
  const clamped = ns < 0n ? 0n : ns
  const seconds = new Date(Number(clamped / nsPerSecond) * 1000).toISOString().slice(0, 19)
  return `${seconds}.${String(clamped % nsPerSecond).padStart(9, '0')}Z`
}

/** Digits of a fraction of a second as nanoseconds (".5" is 500 000 000). */
function fractionNs(fraction: string | undefined): bigint {
  return fraction ? BigInt(fraction.slice(0, 9).padEnd(9, '0')) : 0n
}

const rfc3339 = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?)?(Z|[+-]\d{2}:?\d{2})?$/i

function parseRfc3339(s: string): bigint | undefined {
  const m = rfc3339.exec(s)
  if (!m) return undefined
  const [, date, hh = '00', mm = '00', ss = '00', fraction, zone] = m
  // Without a zone, Date parses a date-and-time as local time (Docker's rule); a bare date would be UTC, hence the time part always.
  const ms = Date.parse(`${date}T${hh}:${mm}:${ss}${zone ? zone.toUpperCase() : ''}`)
  if (Number.isNaN(ms)) return undefined
  return BigInt(ms) * nsPerMs + fractionNs(fraction)
}

/** Nanoseconds since the epoch of a `since`/`until` value, relative ones counted back from `now` (ms). */
export function logTimeNs(value: LogTime, option: string, now = Date.now()): bigint {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new InvalidArgumentError(`${option}: invalid Date`)
    return BigInt(value.getTime()) * nsPerMs
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new InvalidArgumentError(`${option}: ${value} is not a unix time in seconds`)
    const [whole, fraction] = value.toFixed(9).split('.')
    return BigInt(whole) * nsPerSecond + fractionNs(fraction)
  }
  if (typeof value === 'string') {
    const s = value.trim()
    // "0" is unix time 0 for Docker, not a zero duration.
    const duration = s === '0' ? undefined : parseGoDuration(s)
    if (duration !== undefined) return BigInt(now) * nsPerMs - BigInt(Math.round(duration))
    const unix = /^(\d+)(?:\.(\d+))?$/.exec(s)
    if (unix) return BigInt(unix[1]) * nsPerSecond + fractionNs(unix[2])
    const t = parseRfc3339(s)
    if (t !== undefined) return t
  }
  throw new InvalidArgumentError(
    `${option}: cannot parse ${JSON.stringify(value)} as a time; use a Date, unix seconds, a duration before now ('10m', '2h') or RFC 3339 ('2026-12-01T15:00:00Z')`,
  )
}

/** A `since`/`until` value as a record time, for comparing with the log's records. */
export function logTime(value: LogTime, option: string): string {
  return formatLogTime(logTimeNs(value, option))
}
