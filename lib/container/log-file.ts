/**
 * Reading the json-file log the shim writes (native/logger.h): one JSON
 * record a line, `{"log":..,"stream":..,"time":..}`, in `<file>`, rotated to
 * `<file>.1`, `<file>.2`... Records are read oldest file first, from the
 * start or from the last N records, and followed across rotations. Reads are
 * small synchronous ones (64 KiB at most, of a file just written), so the
 * error reports' last lines need no promise; following yields between them.
 *
 * @module
 */
import * as fs from 'node:fs'
import type { LogStreamName } from '../harness/target'

/** One record of the log: a line of output (with its newline), or a piece of a long or last line. */
export interface LogEntry {
  /** Which output it came from: 'stdout' or 'stderr'. */
  stream: LogStreamName
  /** When the shim received it: RFC 3339 with nanoseconds, UTC ("2026-12-01T15:12:22.123456789Z"). */
  time: string
  /** The text, with its newline when the line was complete. */
  log: string
}

const blockSize = 64 * 1024
const newline = 0x0a

/** One file of the set, open for reading. */
interface OpenLog {
  fd: number
  ino: number
}

function tryOpen(file: string): OpenLog | undefined {
  let fd: number
  try {
    fd = fs.openSync(file, 'r')
  } catch {
    return undefined
  }
  return { fd, ino: fs.fstatSync(fd).ino }
}

/** `<base>` for 0, `<base>.<k>` after. */
function numbered(base: string, k: number): string {
  return k ? `${base}.${k}` : base
}

/**
 * The log's files, oldest first. Opened newest first, so a rotation between
 * two opens shows the same file twice (deduplicated by inode) rather than
 * hiding one.
 */
function openSet(base: string): OpenLog[] {
  const files: OpenLog[] = []
  for (let k = 0; ; k++) {
    const f = tryOpen(numbered(base, k))
    if (!f) {
      // The current file may be missing for a moment while the shim replaces it.
      if (k === 0) continue
      break
    }
    if (files.some((o) => o.ino === f.ino)) fs.closeSync(f.fd)
    else files.push(f)
  }
  return files.reverse()
}

function closeAll(files: OpenLog[]): void {
  for (const f of files) fs.closeSync(f.fd)
}

/** Where reading starts: a file of the set and an offset in it. */
interface Position {
  index: number
  offset: number
}

/** Offsets just past each newline of a file, last first, until `want` are found. */
function newlinesFromEnd(fd: number, want: number): number[] {
  const found: number[] = []
  const buf = Buffer.alloc(blockSize)
  let end = fs.fstatSync(fd).size
  while (end > 0 && found.length < want) {
    const start = Math.max(0, end - blockSize)
    const n = fs.readSync(fd, buf, 0, end - start, start)
    for (let i = n - 1; i >= 0 && found.length < want; i--) if (buf[i] === newline) found.push(start + i + 1)
    end = start
  }
  return found
}

/** The position of the last `n` complete records of the set. */
function tailPosition(files: OpenLog[], n: number): Position {
  let need = n
  for (let index = files.length - 1; index >= 0; index--) {
    // One more newline than lines wanted: the one ending the record before them.
    const ends = newlinesFromEnd(files[index].fd, need + 1)
    if (ends.length > need) return { index, offset: ends[need] }
    need -= ends.length
    if (need === 0) return { index, offset: 0 }
  }
  return { index: 0, offset: 0 }
}

function parse(line: string): LogEntry | undefined {
  try {
    const r = JSON.parse(line) as Partial<LogEntry>
    if (typeof r.log !== 'string' || (r.stream !== 'stdout' && r.stream !== 'stderr') || typeof r.time !== 'string') return undefined
    return { stream: r.stream, time: r.time, log: r.log }
  } catch {
    return undefined
  }
}

/**
 * The complete records of `fd` from `offset` to its end, block by block; a
 * record still being written stays for the next call.
 */
function* recordsFrom(file: OpenLog, cursor: { offset: number }): Generator<LogEntry[]> {
  const buf = Buffer.alloc(blockSize)
  for (;;) {
    const n = fs.readSync(file.fd, buf, 0, blockSize, cursor.offset)
    if (n === 0) return
    const last = buf.subarray(0, n).lastIndexOf(newline)
    if (last < 0) {
      // A record longer than a block (a 16 KiB line escaped): read it whole.
      const whole = readRecord(file.fd, cursor.offset)
      if (!whole) return
      cursor.offset += whole.length
      const e = parse(whole.toString('utf8'))
      yield e ? [e] : []
      continue
    }
    const entries: LogEntry[] = []
    for (const line of buf.toString('utf8', 0, last).split('\n')) {
      const e = parse(line)
      if (e) entries.push(e)
    }
    cursor.offset += last + 1
    yield entries
  }
}

/** The record starting at `offset` with its newline, or undefined when it is not complete yet. */
function readRecord(fd: number, offset: number): Buffer | undefined {
  const parts: Buffer[] = []
  let pos = offset
  for (;;) {
    const buf = Buffer.alloc(blockSize)
    const n = fs.readSync(fd, buf, 0, blockSize, pos)
    if (n === 0) return undefined
    const nl = buf.subarray(0, n).indexOf(newline)
    if (nl >= 0) {
      parts.push(buf.subarray(0, nl + 1))
      return Buffer.concat(parts)
    }
    parts.push(buf.subarray(0, n))
    pos += n
  }
}

/** The last `n` records of the log (all of them for Infinity), oldest first. */
export function lastEntries(base: string, n: number): LogEntry[] {
  const files = openSet(base)
  try {
    if (!files.length || n <= 0) return []
    const start = Number.isFinite(n) ? tailPosition(files, n) : { index: 0, offset: 0 }
    const out: LogEntry[] = []
    for (let i = start.index; i < files.length; i++)
      for (const batch of recordsFrom(files[i], { offset: i === start.index ? start.offset : 0 })) out.push(...batch)
    return out.slice(-n)
  } finally {
    closeAll(files)
  }
}

/** Options of {@link followEntries}. */
export interface FollowOptions {
  /** Start with the last `tail` records (default: all). */
  tail?: number
  /** Keep reading new records until `ended` resolves. */
  follow: boolean
  /** Resolves when nothing more can be written (the program exited), or reading should stop. */
  ended: Promise<unknown>
  /** Whether following keeps the Node process alive (default true). */
  persistent?: boolean
}

/**
 * The log's records in batches as they are read, then (with `follow`) as
 * they arrive: inotify on the container's directory wakes the reader on
 * writes and on rotations, never a polling loop.
 */
export async function* followEntries(base: string, opts: FollowOptions): AsyncGenerator<LogEntry[]> {
  const waker = opts.follow ? new Waker(base, opts.ended, opts.persistent ?? true) : undefined
  let files = openSet(base)
  try {
    const tail = opts.tail ?? Infinity
    const start = Number.isFinite(tail) ? (tail <= 0 ? endPosition(files) : tailPosition(files, tail)) : { index: 0, offset: 0 }
    // Files older than the start are not needed.
    closeAll(files.slice(0, start.index))
    files = files.slice(start.index)
    let cursor = { offset: start.offset }
    for (;;) {
      const wasFinished = waker?.finished ?? true
      if (waker) waker.changed = false
      let progressed = false
      while (files.length) {
        for (const batch of recordsFrom(files[0], cursor)) {
          progressed = true
          if (batch.length) yield batch
          // A chatty container must not starve the event loop: the reads are synchronous.
          await new Promise(setImmediate)
        }
        // Past the end of the current file: move on only when it is no longer the newest.
        const newer = files.length > 1 ? files.slice(1) : newerThan(base, files[0])
        if (!newer.length) break
        // Rotated away after the pass above: its last records (written before the rotation) first.
        for (const batch of recordsFrom(files[0], cursor)) if (batch.length) yield batch
        fs.closeSync(files[0].fd)
        files = newer
        cursor = { offset: 0 }
      }
      if (!files.length) files = openSet(base) // there was no log yet
      if (progressed && !wasFinished) continue
      if (!waker || wasFinished) return
      await waker.next()
    }
  } finally {
    closeAll(files)
    waker?.close()
  }
}

/** The end of the newest file: `tail: 0` shows only what comes next. */
function endPosition(files: OpenLog[]): Position {
  if (!files.length) return { index: 0, offset: 0 }
  const index = files.length - 1
  return { index, offset: fs.fstatSync(files[index].fd).size }
}

/** The files written after `current` was rotated away (all present ones when it was dropped); empty while it is still the newest. */
function newerThan(base: string, current: OpenLog): OpenLog[] {
  const head = tryOpen(base)
  if (!head) return []
  const same = head.ino === current.ino
  fs.closeSync(head.fd)
  if (same) return []
  const files = openSet(base)
  const at = files.findIndex((f) => f.ino === current.ino)
  closeAll(files.slice(0, at + 1))
  return files.slice(at + 1)
}

/** Wakes a follower on any change to the log's files, or when the writer is done. */
class Waker {
  finished = false
  changed = false
  private wake: (() => void) | undefined
  private readonly watcher: fs.FSWatcher | undefined

  constructor(base: string, ended: Promise<unknown>, persistent: boolean) {
    const name = base.slice(base.lastIndexOf('/') + 1)
    const notify = () => {
      this.changed = true
      this.wake?.()
    }
    const finish = () => {
      this.finished = true
      notify()
    }
    // The directory, not the file: rotation replaces the file under its name.
    this.watcher = watchOrGone(base.slice(0, base.lastIndexOf('/')), persistent, (file) => {
      if (!file || file.startsWith(name)) notify()
    })
    if (!this.watcher) finish()
    void ended.then(finish, finish)
  }

  /** Resolves at the next change (at once when one came since the last pass began). */
  next(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve
      if (this.finished || this.changed) resolve()
    }).finally(() => (this.wake = undefined))
  }

  close(): void {
    this.watcher?.close()
  }
}

/** A watch of `dir`, or undefined when it is gone (the container was removed: nothing more will be written). */
function watchOrGone(dir: string, persistent: boolean, onChange: (file: string | null) => void): fs.FSWatcher | undefined {
  let watcher: fs.FSWatcher
  try {
    watcher = fs.watch(dir, { persistent }, (_event, file) => onChange(file))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  watcher.on('error', () => {})
  return watcher
}
