/**
 * Bounded parallelism without a dependency.
 * @module
 */

/**
 * Runs `fn` over `items` with at most `limit` calls in flight. After the
 * first failure no new call starts; it waits for those in flight, then
 * rejects with that first error (so nothing runs on after the caller
 * sees the failure).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  let failed: { error: unknown } | undefined
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++
      try {
        results[i] = await fn(items[i], i)
      } catch (error) {
        failed ??= { error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker))
  if (failed) throw failed.error
  return results
}
