/** coalesce(): re-chunking a byte stream into large buffers (pure logic). */
import * as crypto from 'node:crypto'
import { coalesce } from '../../lib/util/coalesce'

async function collect(src: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = []
  for await (const b of src) out.push(b)
  return out
}

async function* pieces(bytes: Buffer, sizes: number[]): AsyncGenerator<Buffer> {
  for (let off = 0, i = 0; off < bytes.length; i++) {
    const n = sizes[i % sizes.length]
    yield bytes.subarray(off, off + n)
    off += n
  }
}

test('joins small pieces and splits large ones into buffers of exactly the size, the last one shorter, same bytes', async () => {
  const bytes = crypto.randomBytes(10_000)
  const out = await collect(coalesce(pieces(bytes, [7, 3000, 1, 513]), 1024))
  expect(out.map((b) => b.length)).toEqual([...Array(9).fill(1024), 10_000 - 9 * 1024])
  expect(Buffer.concat(out).equals(bytes)).toBe(true)
})

test('yields copies: the source may reuse its buffers once a piece was taken', async () => {
  const reused = Buffer.alloc(100)
  async function* src() {
    for (let i = 0; i < 5; i++) yield reused.fill(i)
  }
  const out = await collect(coalesce(src(), 256))
  expect(Buffer.concat(out).equals(Buffer.concat([0, 1, 2, 3, 4].map((i) => Buffer.alloc(100, i))))).toBe(true)
})

test('an empty source yields nothing; a source error reaches the reader', async () => {
  expect(await collect(coalesce((async function* () {})()))).toEqual([])
  async function* broken() {
    yield Buffer.from('abc')
    throw new Error('connection reset')
  }
  await expect(collect(coalesce(broken(), 2))).rejects.toThrow('connection reset')
})
