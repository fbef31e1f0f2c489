/**
 * PoolSha256 (lib/sys/pool-sha256.ts): SHA-256 through the process's own
 * OpenSSL on libuv's threadpool. Its digests are node:crypto's whatever the
 * chunking, for hashes updated in turn; and the bytes are hashed on another
 * thread: the main thread's CPU time stays a small part of what the hash
 * cost (what a pull, bound by the main thread, gains).
 */
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import { PoolSha256 } from '../../lib/sys/pool-sha256'

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex')

async function hashInPieces(bytes: Buffer, sizes: number[]): Promise<string> {
  const h = new PoolSha256()
  for (let off = 0, i = 0; off < bytes.length; i++) {
    const n = sizes[i % sizes.length]
    void h.update(bytes.subarray(off, off + n)) // queued without waiting: they still run in order
    off += n
  }
  return h.digest()
}

/** CPU seconds (user + system) in a /proc stat file. */
const cpuOf = (file: string) => {
  const stat = fs.readFileSync(file, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ').slice(11, 13).reduce((a, t) => a + Number(t), 0) / 100
}

test('digests are node:crypto: nothing, one byte, odd pieces, one large buffer, and two hashes updated in turn', async () => {
  const big = crypto.randomBytes(6 << 20)
  expect(await new PoolSha256().digest()).toBe(sha256(Buffer.alloc(0)))
  expect(await hashInPieces(Buffer.from('x'), [1])).toBe(sha256(Buffer.from('x')))
  expect(await hashInPieces(big, [(1 << 20) + 7, (64 << 10) - 3, 999_983])).toBe(sha256(big))
  expect(await hashInPieces(big, [big.length])).toBe(sha256(big))
  const a = new PoolSha256()
  const b = new PoolSha256()
  for (let off = 0; off < big.length; off += 300_000) {
    await a.update(big.subarray(off, off + 300_000))
    await b.update(big.subarray(0, 1000))
  }
  expect(await a.digest()).toBe(sha256(big))
  expect(await b.digest()).toBe(sha256(Buffer.concat(Array.from({ length: Math.ceil(big.length / 300_000) }, () => big.subarray(0, 1000)))))
})

test('the bytes are hashed off the main thread: its CPU time is a small part of the hash', async () => {
  const chunk = crypto.randomBytes(16 << 20)
  const mainBefore = cpuOf(`/proc/self/task/${process.pid}/stat`)
  const allBefore = cpuOf('/proc/self/stat')
  const h = new PoolSha256()
  for (let i = 0; i < 24; i++) await h.update(chunk) // 384 MiB: about a second of CPU on a slow core
  await h.digest()
  const main = cpuOf(`/proc/self/task/${process.pid}/stat`) - mainBefore
  const all = cpuOf('/proc/self/stat') - allBefore
  expect(all).toBeGreaterThan(0.2)
  expect(main).toBeLessThan(all / 4)
})
