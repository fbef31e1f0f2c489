/**
 * Ready when a command run inside the container exits 0 (`pg_isready`,
 * `redis-cli ping`...). Each try is an exec; tries repeat on log lines and
 * on a backoff from 10 ms to 250 ms.
 *
 * @module
 */
import { backoff, type WaitContext, type WaitStrategy } from './strategy'

/** Waits for a command inside the container to succeed. */
export class SuccessfulCommandStrategy implements WaitStrategy {
  readonly awaitsExit = false

  /** @param cmd - the command and its arguments. */
  constructor(private readonly cmd: string[]) {}

  get description(): string {
    return `command ${JSON.stringify(this.cmd)} to exit 0`
  }

  async waitUntilReady(ctx: WaitContext): Promise<void> {
    for (const delay of backoff(10, 250)) {
      if (ctx.signal.aborted) return
      if (ctx.target.runningPid()) {
        const res = await ctx.target.exec(this.cmd).catch(() => undefined)
        if (res?.exitCode === 0) return
      }
      await ctx.changed(delay)
    }
  }
}
