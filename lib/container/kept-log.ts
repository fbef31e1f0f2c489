/**
 * The log of an `rm: true` container, kept by the handle that saw it exit:
 * the removal takes the log file, but a test that failed reads the logs of
 * what it ran (testcontainers users do it on every failure), so the last
 * records are read into memory first, bounded, and served from there.
 *
 * @module
 */
import * as fs from 'node:fs'
import { lastEntries, type LogEntry } from './log-file'

/** At most this many records are kept... */
const keptLogRecords = 10_000
/** ...and at most this many bytes of their text (the newest ones win). */
const keptLogBytes = 1024 * 1024

/** The newest records of the log at `base` within the bounds; [] when it cannot be read. */
export function keepLog(base: string): LogEntry[] {
  let entries: LogEntry[]
  try {
    // A program that printed nothing (the common short-lived case) costs one stat here: this runs
    // on the exit path of every rm: true container, before wait() answers. A rotated set has a `.1`.
    if (!fs.statSync(base, { throwIfNoEntry: false })?.size && !fs.existsSync(`${base}.1`)) return []
    entries = lastEntries(base, keptLogRecords)
  } catch {
    return []
  }
  let bytes = 0
  let first = entries.length
  while (first > 0 && bytes + Buffer.byteLength(entries[first - 1].log) <= keptLogBytes) bytes += Buffer.byteLength(entries[--first].log)
  return entries.slice(first)
}
