/** BufferPool: buffers lent to several readers come back only once all of them released them (pure logic). */
import { BufferPool } from '../../lib/util/buffer-pool'

test('a lent buffer is reused only after each of its readers released it; unknown and short buffers never are', () => {
  const pool = new BufferPool(1024, 2)
  const a = pool.take()
  pool.lend(a, 3)
  pool.release(a)
  pool.release(a)
  expect(pool.take()).not.toBe(a) // one reader still holds it
  pool.release(a)
  expect(pool.take()).toBe(a)
  expect(pool.allocated).toBe(2)

  pool.release(Buffer.alloc(1024)) // never lent
  const short = pool.take().subarray(0, 10)
  pool.lend(short, 1)
  pool.release(short)
  expect(pool.take()).not.toBe(short)
  expect(pool.allocated).toBe(4)
})

test('at most `keep` free buffers are kept', () => {
  const pool = new BufferPool(16, 1)
  const [a, b] = [pool.take(), pool.take()]
  for (const buf of [a, b]) pool.lend(buf, 1)
  pool.release(a)
  pool.release(b)
  expect(pool.take()).toBe(a)
  expect(pool.take()).not.toBe(b)
})
