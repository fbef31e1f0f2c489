/**
 * Bounded concurrency: {@link Throttle} for calls that arrive one by one,
 * {@link mapLimit} for a list (on a Throttle of its own).
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

/**
 * Runs `fn` over `items` with at most `limit` calls in flight. After the
 * first failure no new call starts; it waits for those in flight, then
 * rejects with that first error (so nothing runs on after the caller
 * sees the failure).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const throttle = new Throttle(Math.max(1, limit))
  let failed: { error: unknown } | undefined
  const calls = items.map((item, i) =>
    throttle.run(async () => {
      if (failed) return undefined // its turn came after a failure: not started
      try {
        return await fn(item, i)
      } catch (error) {
        failed ??= { error }
        return undefined
      }
    }),
  )
  const results = await Promise.all(calls)
  if (failed) throw failed.error
  return results as R[]
}
