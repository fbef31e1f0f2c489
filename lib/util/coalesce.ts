/**
 * Re-chunking a byte stream into large buffers: an HTTP body arrives in
 * socket-sized pieces (16-64 KiB), and every piece costs a turn through each
 * stream it passes (tee, hash, file write, decompressor). Joined into 1 MiB
 * buffers, the same bytes cost a sixteenth of those turns and syscalls.
 *
 * @module
 */

import { BufferPool } from './buffer-pool'

/** Default size of the buffers {@link coalesce} yields. */
export const COALESCE_BYTES = 1 << 20

/**
 * The bytes of `src` in buffers of `size` bytes (the last one shorter). The
 * buffers are copies, taken from a pool when given one (fresh ones of `size` otherwise): pieces of
 * `src` are not kept once copied. A reader that gives a buffer back to the
 * pool must be done with it: the next one yielded may be the same memory.
 */
export async function* coalesce(src: AsyncIterable<Buffer>, sizeOrPool: number | BufferPool = COALESCE_BYTES): AsyncGenerator<Buffer> {
  const pool = typeof sizeOrPool === 'number' ? new BufferPool(sizeOrPool, 0) : sizeOrPool
  const size = pool.size
  let buf = pool.take()
  let used = 0
  for await (const chunk of src) {
    let off = 0
    while (off < chunk.length) {
      const n = chunk.copy(buf, used, off)
      used += n
      off += n
      if (used === size) {
        yield buf
        buf = pool.take()
        used = 0
      }
    }
  }
  if (used) yield buf.subarray(0, used)
}
