/**
 * Pull progress for people, as Docker prints it: on a terminal one line per
 * layer, redrawn in place with a bar ("a1b2c3d4e5f6: Downloading [=====>   ]
 * 1.2MB/5.0MB"); elsewhere (CI logs, pipes) one line each time a layer's
 * status changes, never a line per chunk.
 *
 * @module
 */
import type { PullProgress, PullStatus } from '../index'
import { sizeText } from './table'

const words: Record<PullStatus, string> = {
  waiting: 'Waiting', downloading: 'Downloading', extracting: 'Extracting', done: 'Pull complete', cached: 'Already exists',
}

/** A 30-column bar of `bytes` out of `total`. */
function bar(bytes: number, total: number): string {
  const filled = total > 0 ? Math.min(30, Math.floor((bytes / total) * 30)) : 0
  return `[${'='.repeat(Math.max(0, filled - 1))}${filled ? '>' : ''}${' '.repeat(30 - filled)}]`
}

/** One layer's line. */
function lineOf(e: PullProgress, tty: boolean): string {
  const id = e.digest.replace(/^sha256:/, '').slice(0, 12)
  const amount = tty && e.status === 'downloading' ? ` ${bar(e.bytes, e.total)} ${sizeText(e.bytes)}/${sizeText(e.total)}` : ''
  return `${id}: ${words[e.status]}${amount}`
}

/** A progress printer for `out`: redraws on a terminal, prints status changes otherwise. */
export function pullProgress(out: NodeJS.WritableStream & { isTTY?: boolean }): (e: PullProgress) => void {
  const tty = out.isTTY === true
  const lines = new Map<number, string>() // by layer index, in the order first seen
  return (e) => {
    const line = lineOf(e, tty)
    const known = lines.has(e.layer)
    if (!tty) {
      if (lines.get(e.layer)?.split(':')[1] !== line.split(':')[1]) out.write(`${line}\n`)
      lines.set(e.layer, line)
      return
    }
    lines.set(e.layer, line)
    const row = [...lines.keys()].indexOf(e.layer)
    const up = lines.size - row - (known ? 0 : 1)
    // Move to the layer's row (or a new one at the bottom), rewrite it, and come back down.
    if (!known) out.write(`${line}\n`)
    else out.write(`\x1b[${up}A\r\x1b[2K${line}\r\x1b[${up}B`)
  }
}
