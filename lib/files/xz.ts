/**
 * A streaming xz decompressor (Node has none built in), over xz-decompress:
 * xz-embedded compiled to WebAssembly, so nothing to compile or load
 * natively, and memory bounded by the stream's dictionary, not the input.
 *
 * @module
 */
import { Duplex, PassThrough, Readable } from 'node:stream'
import type { ReadableStream } from 'node:stream/web'
import { XzReadableStream } from 'xz-decompress'

/** The first bytes of an xz stream. */
export const xzMagic = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])

/** A Duplex that decompresses an xz stream: bytes written in, decompressed bytes read out. */
export function createXzDecompress(): Duplex {
  const input = new PassThrough()
  const output = Readable.fromWeb(new XzReadableStream(Readable.toWeb(input) as never) as ReadableStream<Uint8Array>)
  return Duplex.from({ writable: input, readable: output })
}
