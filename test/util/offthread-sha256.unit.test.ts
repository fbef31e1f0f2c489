/**
 * Sha256Job (lib/util/offthread-sha256.ts): SHA-256 on a worker thread, fed
 * through a 2 MiB shared ring. Its digests are node:crypto's whatever the
 * chunking, for inputs far larger than the ring (waiting for room, pieces
 * skipping the ring's tail) and for jobs interleaved on the one worker; and
 * a process that used it (or abandoned a job) exits on its own.
 */
import * as crypto from 'node:crypto'
import { Sha256Job } from '../../lib/util/offthread-sha256'
import { runNodeSync } from '../tools/node-child'

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex')

async function hashInPieces(bytes: Buffer, sizes: number[]): Promise<string> {
  const job = new Sha256Job()
  for (let off = 0, i = 0; off < bytes.length; i++) {
    const n = sizes[i % sizes.length]
    await job.update(bytes.subarray(off, off + n))
    off += n
  }
  return job.digest()
}

test('digests are node:crypto: nothing, one byte, odd pieces, and one buffer of 6 times the ring', async () => {
  const big = crypto.randomBytes(12 << 20)
  expect(await new Sha256Job().digest()).toBe(sha256(Buffer.alloc(0)))
  expect(await hashInPieces(Buffer.from('x'), [1])).toBe(sha256(Buffer.from('x')))
  // 1 MiB + 7 and 64 KiB - 3: pieces that do not divide the ring, so its tail is skipped at every turn.
  expect(await hashInPieces(big, [(1 << 20) + 7, (64 << 10) - 3, 999_983])).toBe(sha256(big))
  expect(await hashInPieces(big, [big.length])).toBe(sha256(big))
})

test('jobs updated in turn keep their own bytes; an abandoned one does not disturb them', async () => {
  const a = crypto.randomBytes(5 << 20)
  const b = crypto.randomBytes(3 << 20)
  const ja = new Sha256Job()
  const jb = new Sha256Job()
  const dropped = new Sha256Job()
  for (let off = 0; off < a.length; off += 300_000) {
    await ja.update(a.subarray(off, off + 300_000))
    await dropped.update(a.subarray(off, off + 1000))
    if (off < b.length) await jb.update(b.subarray(off, Math.min(off + 300_000, b.length)))
  }
  dropped.abandon()
  expect(await Promise.all([ja.digest(), jb.digest()])).toEqual([sha256(a), sha256(b)])
  dropped.abandon() // a second abandon, and one after digest(), are no-ops
  ja.abandon()
})

test('a process exits by itself after digests and after an abandoned job: the worker holds it only while a job is open', () => {
  const r = runNodeSync(
    `const { Sha256Job } = lib('util/offthread-sha256')
    ;(async () => {
      const j = new Sha256Job()
      await j.update(Buffer.from('abc'))
      const left = new Sha256Job()
      await left.update(Buffer.alloc(10 << 20))
      left.abandon()
      console.log(await j.digest())
    })()`,
    { timeoutMs: 30_000 },
  )
  expect(r.stderr).toBe('')
  expect(r.stdout.trim()).toBe(sha256(Buffer.from('abc')))
  expect(r.status).toBe(0)
})
