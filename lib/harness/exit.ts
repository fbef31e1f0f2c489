/**
 * Ready when the program has exited (one-shot jobs: migrations, seeders),
 * optionally with a given exit code. Event-driven: the shim reports the exit.
 *
 * @module
 */
import { waitFailure } from './wait-failure'
import { ContainerExitedError } from '../errors'
import type { WaitContext, WaitStrategy } from './strategy'

/** Options of `Wait.forExit`. */
export interface ExitWaitOptions {
  /** The exit code the job must end with; any code is accepted when omitted. */
  exitCode?: number
}

/** Waits for the program to end. */
export class ExitStrategy implements WaitStrategy {
  readonly awaitsExit = true

  /** @param opts - the expected exit code, if any. */
  constructor(private readonly opts: ExitWaitOptions = {}) {}

  get description(): string {
    return this.opts.exitCode === undefined ? 'the program to exit' : `the program to exit with code ${this.opts.exitCode}`
  }

  async waitUntilReady(ctx: WaitContext): Promise<void> {
    const started = Date.now()
    const { exitCode } = await ctx.target.exited()
    if (this.opts.exitCode === undefined || exitCode === this.opts.exitCode) return
    throw new ContainerExitedError({ ...waitFailure(ctx.target, this.description, started), exitCode })
  }
}
