/**
 * Bounded concurrency for calls that arrive one by one (mapLimit, in ../util/limit, takes a list).
 * @module
 */

/** Runs calls in arrival order with at most `limit` in flight; the others wait their turn. */
export class Throttle {
  private active = 0
  private readonly waiting: (() => void)[] = []

  constructor(private readonly limit: number) {}

  /** Runs `fn` once fewer than `limit` calls are in flight; settles as it does. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    // A call that ends hands its slot to the first waiter, so no newcomer slips in between.
    if (this.active < this.limit) this.active++
    else await new Promise<void>((resolve) => this.waiting.push(resolve))
    try {
      return await fn()
    } finally {
      const next = this.waiting.shift()
      if (next) next()
      else this.active--
    }
  }
}
