import { mapLimit, Throttle } from '../../lib/sys/throttle'

test('Throttle: at most `limit` calls in flight, the rest in arrival order; a failure settles its caller and frees its slot', async () => {
  const throttle = new Throttle(2)
  let inFlight = 0
  let most = 0
  const started: number[] = []
  const call = (i: number) => throttle.run(async () => {
    started.push(i)
    most = Math.max(most, ++inFlight)
    await new Promise((r) => setTimeout(r, 5))
    inFlight--
    if (i === 1) throw new Error('one failed')
    return i
  })
  const results = await Promise.allSettled([0, 1, 2, 3, 4].map(call))
  // A call arriving as one ends does not slip in ahead of those waiting.
  const late = await Promise.all([call(5), call(6), call(7)])
  expect(most).toBe(2)
  expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
  expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([0, 'one failed', 2, 3, 4])
  expect(late).toEqual([5, 6, 7])
})

test('mapLimit: results in item order with at most `limit` calls in flight; after a failure no new call starts, those in flight finish, then it rejects with the first error', async () => {
  let inFlight = 0
  let most = 0
  const ran: number[] = []
  const work = async (n: number) => {
    ran.push(n)
    most = Math.max(most, ++inFlight)
    await new Promise((r) => setTimeout(r, n === 1 ? 1 : 10))
    inFlight--
    if (n === 1) throw new Error('one failed')
    return n * 10
  }
  expect(await mapLimit([3, 2, 0, 4], 2, work)).toEqual([30, 20, 0, 40])
  expect(most).toBe(2)
  ran.length = 0
  let settledInFlight = -1
  await expect(mapLimit([0, 1, 2, 3, 4], 2, work).finally(() => (settledInFlight = inFlight))).rejects.toThrow('one failed')
  // 1 fails (after 1 ms) while 0 still runs: 2, 3 and 4 never start, and 0 finishes before the rejection.
  expect(ran).toEqual([0, 1])
  expect(settledInFlight).toBe(0)
  expect(await mapLimit([], 3, work)).toEqual([])
})
