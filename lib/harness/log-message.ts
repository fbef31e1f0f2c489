/**
 * Ready when a log line matches, `times` times: lines are read as they
 * arrive (inotify on the log files), no polling.
 *
 * @module
 */
import { untilAborted, type WaitContext, type WaitStrategy } from './strategy'
import type { LogStreamName } from './target'

/** Options of `Wait.forLogMessage`. */
export interface LogMessageOptions {
  /** How many matching lines to wait for (default 1). */
  times?: number
  /** Which output to read (default "both"). */
  stream?: LogStreamName | 'both'
}

/** Waits for a log line to match a pattern. */
export class LogMessageStrategy implements WaitStrategy {
  readonly awaitsExit = false
  private readonly times: number
  private readonly stream: LogStreamName | 'both'

  /** @param pattern - a RegExp, or a string the line must contain. */
  constructor(
    private readonly pattern: RegExp | string,
    opts: LogMessageOptions = {},
  ) {
    this.times = opts.times ?? 1
    this.stream = opts.stream ?? 'both'
  }

  get description(): string {
    const where = this.stream === 'both' ? '' : ` on ${this.stream}`
    return `log message ${String(this.pattern)}${this.times > 1 ? ` ${this.times} times` : ''}${where}`
  }

  async waitUntilReady(ctx: WaitContext): Promise<void> {
    let seen = 0
    for await (const { line, stream } of ctx.target.logLines(ctx.signal)) {
      if (this.stream !== 'both' && stream !== this.stream) continue
      if (!this.matches(line)) continue
      if (++seen >= this.times) return
    }
    // The output ended (the program exited) without enough matches: never ready.
    await untilAborted(ctx.signal)
  }

  private matches(line: string): boolean {
    if (typeof this.pattern === 'string') return line.includes(this.pattern)
    this.pattern.lastIndex = 0 // a /g or /y pattern keeps state between calls
    return this.pattern.test(line)
  }
}
