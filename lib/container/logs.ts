/**
 * `logs()`: the container's log as `docker logs` gives it. The order of the
 * filters is Docker's: the last `tail` records of both streams, then
 * `since`/`until`, then the streams asked for. With `follow`, new records
 * arrive until the program exits (or `until` passes).
 *
 * @module
 */
import { Readable } from 'node:stream'
import { InvalidArgumentError } from '../errors'
import type { LogStreamName } from '../harness/target'
import { followEntries, type LogEntry } from './log-file'
import { logTime } from '../util/log-time'
import type { LogsOptions } from './types'

/** The filters of one logs() call, with times in the records' form. */
interface Filter {
  streams: Set<LogStreamName>
  since?: string
  until?: string
  tail?: number
}

function tailOf(tail: LogsOptions['tail']): number | undefined {
  if (tail === undefined || tail === 'all') return undefined
  if (typeof tail !== 'number' || !Number.isInteger(tail) || tail < 0) throw new InvalidArgumentError(`tail: ${JSON.stringify(tail)} is not a count of lines; use a number >= 0 or 'all'`)
  return tail
}

/** Validates the options (EINVALID) and resolves relative times against now. */
export function logFilter(opts: LogsOptions): Filter {
  const streams = new Set<LogStreamName>()
  if (opts.stdout !== false) streams.add('stdout')
  if (opts.stderr !== false) streams.add('stderr')
  return {
    streams,
    tail: tailOf(opts.tail),
    ...(opts.since !== undefined ? { since: logTime(opts.since, 'since') } : {}),
    ...(opts.until !== undefined ? { until: logTime(opts.until, 'until') } : {}),
  }
}

/** Resolves when `until` has passed, so a follower stops there even if nothing more is written. */
function untilPassed(until: string | undefined): { passed: Promise<void>; cancel: () => void } {
  if (until === undefined) return { passed: new Promise(() => {}), cancel: () => {} }
  let timer: NodeJS.Timeout | undefined
  const passed = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, Date.parse(until) - Date.now() + 1))
  })
  return { passed, cancel: () => clearTimeout(timer) }
}

/** Where a log is read from: the container's log file, or the records a handle kept of a removed container (kept-log.ts). */
export type LogSource = string | LogEntry[]

/** The source's records in batches: a file's as they are read (and followed), kept ones at once. */
function batchesOf(source: LogSource, tail: number | undefined, follow: boolean, ended: Promise<unknown>): AsyncIterable<LogEntry[]> {
  if (typeof source === 'string') return followEntries(source, { tail, follow, ended })
  const kept = tail === undefined ? source : tail === 0 ? [] : source.slice(-tail)
  return (async function* () {
    yield kept
  })()
}

/**
 * The records that pass the filter, as they are read. `ended` is asked when
 * reading begins (its throw, e.g. ENOCONTAINER, is the iterator's) and
 * resolves when the container's program has exited (at once when it is not running).
 */
export async function* filteredEntries(source: LogSource, filter: Filter, follow: boolean, ended: () => Promise<unknown>): AsyncGenerator<LogEntry> {
  const end = ended()
  const until = untilPassed(follow ? filter.until : undefined)
  try {
    for await (const batch of batchesOf(source, filter.tail, follow, Promise.race([end, until.passed]))) {
      for (const e of batch) {
        if (filter.since !== undefined && e.time < filter.since) continue
        if (filter.until !== undefined && e.time > filter.until) return
        if (filter.streams.has(e.stream)) yield e
      }
    }
  } finally {
    until.cancel()
  }
}

/** The bytes of the filtered records, each with its time in front when `timestamps`. */
export function logStream(source: LogSource, opts: LogsOptions, ended: () => Promise<unknown>): Readable {
  const filter = logFilter(opts)
  async function* chunks(): AsyncGenerator<Buffer> {
    for await (const e of filteredEntries(source, filter, !!opts.follow, ended)) yield Buffer.from(opts.timestamps ? `${e.time} ${e.log}` : e.log)
  }
  return Readable.from(chunks(), { objectMode: false })
}
