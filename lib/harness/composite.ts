/**
 * Strategies made of others: all of them (in parallel), or the first one.
 *
 * @module
 */
import type { WaitContext, WaitStrategy } from './strategy'

abstract class CompositeStrategy implements WaitStrategy {
  constructor(
    private readonly word: 'all' | 'any',
    protected readonly strategies: WaitStrategy[],
  ) {}

  get awaitsExit(): boolean {
    return this.strategies.some((s) => s.awaitsExit)
  }

  get description(): string {
    return `${this.word} of [${this.strategies.map((s) => s.description).join('; ')}]`
  }

  abstract waitUntilReady(ctx: WaitContext): Promise<void>
}

/** Ready when every strategy is ready; they wait in parallel. */
export class AllStrategy extends CompositeStrategy {
  /** @param strategies - all must succeed. */
  constructor(strategies: WaitStrategy[]) {
    super('all', strategies)
  }

  async waitUntilReady(ctx: WaitContext): Promise<void> {
    await Promise.all(this.strategies.map((s) => s.waitUntilReady(ctx)))
  }
}

/** Ready when any strategy is ready; the others are stopped. */
export class AnyStrategy extends CompositeStrategy {
  /** @param strategies - the first to succeed wins. */
  constructor(strategies: WaitStrategy[]) {
    super('any', strategies)
  }

  async waitUntilReady(ctx: WaitContext): Promise<void> {
    // Each child gets its own signal, so the winner stops the others without ending the outer wait.
    const children = new AbortController()
    const stop = () => children.abort()
    ctx.signal.addEventListener('abort', stop, { once: true })
    try {
      await Promise.any(this.strategies.map((s) => s.waitUntilReady({ ...ctx, signal: children.signal })))
    } catch (err) {
      throw (err as AggregateError).errors?.[0] ?? err
    } finally {
      ctx.signal.removeEventListener('abort', stop)
      children.abort()
    }
  }
}
