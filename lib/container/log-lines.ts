/**
 * A container's output as lines tagged with their stream, for wait
 * strategies, onLog and error reports.
 *
 * @module
 */
import * as fs from 'node:fs'
import type { LogLine, LogStreamName } from '../harness/target'
import { ensureFiles, tail } from './logs'

const streams: LogStreamName[] = ['stdout', 'stderr']

/**
 * Lines of stdout.log and stderr.log from the start, then as they arrive
 * until `ended` resolves or `signal` aborts. A last line without a newline
 * is delivered at the end.
 */
export async function* followLines(files: { stdout: string; stderr: string }, ended: Promise<unknown>, signal: AbortSignal, persistent = true): AsyncGenerator<LogLine> {
  const paths = [files.stdout, files.stderr]
  ensureFiles(paths)
  const aborted = new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })))
  const partial = ['', '']
  for await (const { index, chunk } of tail(paths, true, Promise.race([ended, aborted]), persistent)) {
    const lines = (partial[index] + chunk.toString('utf8')).split('\n')
    partial[index] = lines.pop()!
    for (const line of lines) yield { line, stream: streams[index] }
    if (signal.aborted) return
  }
  for (const i of [0, 1]) if (partial[i]) yield { line: partial[i], stream: streams[i] }
}

/** The last `n` lines of each stream's log file, each prefixed by its stream name. */
export function lastLines(files: { stdout: string; stderr: string }, n: number): string[] {
  const out: string[] = []
  for (const stream of streams) {
    let text = ''
    try {
      text = readTail(files[stream], 64 * 1024)
    } catch {
      continue
    }
    const lines = text.split('\n')
    if (lines[lines.length - 1] === '') lines.pop()
    out.push(...lines.slice(-n).map((l) => `${stream}: ${l}`))
  }
  return out.slice(-n)
}

function readTail(file: string, bytes: number): string {
  const fd = fs.openSync(file, 'r')
  try {
    const size = fs.fstatSync(fd).size
    const len = Math.min(size, bytes)
    const buf = Buffer.alloc(len)
    fs.readSync(fd, buf, 0, len, size - len)
    return buf.toString('utf8')
  } finally {
    fs.closeSync(fd)
  }
}
