/**
 * A container's output as lines tagged with their stream, for wait
 * strategies, onLog and error reports: the log's records joined back into
 * lines (a line longer than 16 KiB is split into records by the shim).
 *
 * @module
 */
import type { LogLine, LogStreamName } from '../harness/target'
import { followEntries, lastEntries, type LogEntry } from './log-file'

/** Joins records into lines per stream; a piece without its newline waits for the rest. */
class LineJoiner {
  private readonly partial: Record<LogStreamName, string> = { stdout: '', stderr: '' }

  /** The lines the records complete. */
  push(entries: LogEntry[]): LogLine[] {
    const lines: LogLine[] = []
    for (const e of entries) {
      if (!e.log.endsWith('\n')) {
        this.partial[e.stream] += e.log
        continue
      }
      lines.push({ line: this.partial[e.stream] + e.log.slice(0, -1), stream: e.stream })
      this.partial[e.stream] = ''
    }
    return lines
  }

  /** Last lines without a newline, at the end of the output. */
  rest(): LogLine[] {
    return (['stdout', 'stderr'] as const).filter((s) => this.partial[s]).map((stream) => ({ line: this.partial[stream], stream }))
  }
}

/**
 * Lines of the log from the start, then as they arrive until `ended`
 * resolves or `signal` aborts. A last line without a newline is delivered
 * at the end.
 */
export async function* followLines(file: string, ended: Promise<unknown>, signal: AbortSignal, persistent = true): AsyncGenerator<LogLine> {
  const aborted = new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })))
  const joiner = new LineJoiner()
  for await (const batch of followEntries(file, { follow: true, ended: Promise.race([ended, aborted]), persistent })) {
    for (const line of joiner.push(batch)) {
      yield line
      if (signal.aborted) return
    }
  }
  yield* joiner.rest()
}

/** The last `n` lines of output, each prefixed by its stream name. */
export function lastLines(file: string, n: number): string[] {
  const joiner = new LineJoiner()
  // A few records more than lines: a long line may span several.
  const lines = [...joiner.push(lastEntries(file, n + 8)), ...joiner.rest()]
  return lines.slice(-n).map((l) => `${l.stream}: ${l.line}`)
}
