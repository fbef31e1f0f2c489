/**
 * Pull and load progress for people, as Docker prints it: on a terminal one
 * line per layer, redrawn in place with a bar ("a1b2c3d4e5f6: Downloading
 * [=====>   ] 1.2MB/5.0MB"); elsewhere (CI logs, pipes) a pull prints one
 * line each time a layer's status changes, never a line per chunk, and a
 * load prints nothing but what it loaded (as `docker load` does).
 *
 * @module
 */
import type { LoadProgress, PullProgress, PullStatus } from '../index'
import { sizeText } from './table'

/** A stream that may be a terminal. */
type Output = NodeJS.WritableStream & { isTTY?: boolean }

const words: Record<PullStatus, string> = {
  waiting: 'Waiting', downloading: 'Downloading', extracting: 'Extracting', done: 'Pull complete', cached: 'Already exists',
}

/** A 30-column bar of `bytes` out of `total`. */
function bar(bytes: number, total: number): string {
  const filled = total > 0 ? Math.min(30, Math.floor((bytes / total) * 30)) : 0
  return `[${'='.repeat(Math.max(0, filled - 1))}${filled ? '>' : ''}${' '.repeat(30 - filled)}]`
}

/** " [====>   ] 1.2MB/5.0MB" */
function amountOf(bytes: number, total: number): string {
  return ` ${bar(bytes, total)} ${sizeText(bytes)}/${sizeText(total)}`
}

/** Lines on a terminal, one per key in the order first seen: a new key's line is added at the bottom, a known key's rewritten in place. */
function liveLines(out: Output): (key: string, line: string) => void {
  const keys: string[] = []
  return (key, line) => {
    const row = keys.indexOf(key)
    if (row < 0) {
      keys.push(key)
      out.write(`${line}\n`)
      return
    }
    // Move up to the key's row, rewrite it, and come back down.
    const up = keys.length - row
    out.write(`\x1b[${up}A\r\x1b[2K${line}\r\x1b[${up}B`)
  }
}

/** One layer's line of a pull. */
function pullLine(e: PullProgress, tty: boolean): string {
  const id = e.digest.replace(/^sha256:/, '').slice(0, 12)
  return `${id}: ${words[e.status]}${tty && e.status === 'downloading' ? amountOf(e.bytes, e.total) : ''}`
}

/** A pull's progress printer for `out`: redraws on a terminal, prints status changes otherwise. */
export function pullProgress(out: Output): (e: PullProgress) => void {
  if (out.isTTY === true) {
    const draw = liveLines(out)
    return (e) => draw(String(e.layer), pullLine(e, true))
  }
  const statuses = new Map<number, PullStatus>()
  return (e) => {
    if (statuses.get(e.layer) !== e.status) out.write(`${pullLine(e, false)}\n`)
    statuses.set(e.layer, e.status)
  }
}

/** Files smaller than this are not drawn: manifests and configs (and layers too small to watch) flash by. */
const SMALLEST_DRAWN = 64 << 10

/** A file of an archive as Docker names a layer: the first 12 hex digits of its digest ("blobs/sha256/<hex>", "<hex>/layer.tar"), else its path. */
function shortName(file: string): string {
  return /([0-9a-f]{64})/.exec(file)?.[1]?.slice(0, 12) ?? file
}

/** A load's progress printer for a terminal (undefined elsewhere: a load in a log prints only what it loaded). */
export function loadProgress(out: Output): ((e: LoadProgress) => void) | undefined {
  if (out.isTTY !== true) return undefined
  const draw = liveLines(out)
  return (e) => {
    if (e.total < SMALLEST_DRAWN) return
    draw(e.file, `${shortName(e.file)}: ${e.status === 'loading' ? `Loading layer${amountOf(e.bytes, e.total)}` : 'Loaded'}`)
  }
}
