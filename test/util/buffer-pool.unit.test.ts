/** BufferPool: buffers lent to several readers come back only once all of them released them (pure logic). */
import * as v8 from 'node:v8'
import * as vm from 'node:vm'
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

  const stranger = Buffer.alloc(1024)
  pool.release(stranger) // never lent
  const next = pool.take()
  expect(next).not.toBe(stranger)
  const short = next.subarray(0, 10)
  pool.lend(short, 1)
  pool.release(short)
  expect(pool.take()).not.toBe(short)
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

test('a buffer whose reader never releases it is not held by the pool: it stays collectable', async () => {
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc') as () => void
  const pool = new BufferPool(1 << 20)
  let buf: Buffer | undefined = pool.take()
  pool.lend(buf, 2)
  pool.release(buf)
  const ref = new WeakRef(buf)
  buf = undefined
  await new Promise((resolve) => setImmediate(resolve)) // a WeakRef holds its target until the job that made it ends
  gc()
  expect(ref.deref()).toBeUndefined()
})
