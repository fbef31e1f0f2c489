/**
 * Re-chunking a byte stream into large buffers: an HTTP body arrives in
 * socket-sized pieces (16-64 KiB), and every piece costs a turn through each
 * stream it passes (tee, hash, file write, decompressor). Joined into 1 MiB
 * buffers, the same bytes cost a sixteenth of those turns and syscalls.
 *
 * @module
 */

/** Default size of the buffers {@link coalesce} yields. */
export const COALESCE_BYTES = 1 << 20

/**
 * The bytes of `src` in buffers of `size` bytes (the last one shorter). The
 * buffers are fresh copies: pieces of `src` are not kept once copied.
 */
export async function* coalesce(src: AsyncIterable<Buffer>, size = COALESCE_BYTES): AsyncGenerator<Buffer> {
  let buf = Buffer.allocUnsafe(size)
  let used = 0
  for await (const chunk of src) {
    let off = 0
    while (off < chunk.length) {
      const n = chunk.copy(buf, used, off)
      used += n
      off += n
      if (used === size) {
        yield buf
        buf = Buffer.allocUnsafe(size)
        used = 0
      }
    }
  }
  if (used) yield buf.subarray(0, used)
}
