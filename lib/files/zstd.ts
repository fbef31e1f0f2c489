/**
 * A streaming zstd decompressor (Node 20 has none built in), over fzstd's
 * pure-JavaScript push decoder: nothing to compile, and memory bounded by
 * the frame's window rather than the whole input.
 *
 * @module
 */
import { Transform } from 'node:stream'
import { Decompress } from 'fzstd'

/** The first bytes of a zstd frame. */
export const zstdMagic = Buffer.from([0x28, 0xb5, 0x2f, 0xfd])

/** A Transform that decompresses a zstd stream (one or more frames). */
export function createZstdDecompress(): Transform {
  let decoder: Decompress
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      try {
        decoder.push(chunk)
        cb()
      } catch (err) {
        cb(new Error(`invalid zstd data: ${(err as Error).message}`))
      }
    },
    flush(cb) {
      try {
        decoder.push(new Uint8Array(0), true)
        cb()
      } catch (err) {
        cb(new Error(`truncated or invalid zstd data: ${(err as Error).message}`))
      }
    },
  })
  // fzstd reuses its window buffer: copy each output chunk before handing it on.
  decoder = new Decompress((data) => out.push(Buffer.from(data)))
  return out
}
