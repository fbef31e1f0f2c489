/**
 * Stream plumbing under the tar code: picking and running the decompressor
 * a stream's first bytes call for, feeding bytes into tar-stream's extractor
 * with backpressure, bridging its (streamx) pack to a Node Readable, and
 * writing buffers out to fds. Image layers and docker cp archives both use it.
 *
 * @module
 */
import * as fs from 'node:fs'
import { PassThrough, Readable, type Duplex, type Writable } from 'node:stream'
import * as zlib from 'node:zlib'
import type * as tar from 'tar-stream'
import { bzip2Magic, createBzip2Decompress } from './bzip2'
import { createXzDecompress, xzMagic } from './xz'
import { createZstdDecompress, zstdMagic } from './zstd'
import type { PaxScanner } from './pax'

/** A Node Readable over tar-stream's (streamx) pack, with backpressure; destroying it stops the walk. */
export function toNodeReadable(pack: tar.Pack): Readable {
  const out = new Readable({
    read() {
      pack.resume()
    },
    destroy(err, cb) {
      pack.destroy()
      cb(err)
    },
  })
  pack.on('data', (chunk: unknown) => {
    if (!out.push(chunk)) pack.pause()
  })
  pack.on('end', () => out.push(null))
  pack.on('error', (err: Error) => out.destroy(err))
  return out
}

/** Resolves at the writable's next drain event (backpressure). */
export function drained(w: { once(ev: 'drain', fn: () => void): unknown }): Promise<void> {
  return new Promise((resolve) => w.once('drain', resolve))
}

/** Writes `src` into the extractor with backpressure (and first into `scanner`); destroys it on a source error. */
export async function feed(src: Readable, extract: tar.Extract, scanner?: PaxScanner): Promise<void> {
  try {
    for await (const chunk of src) {
      scanner?.write(chunk)
      if (!extract.write(chunk)) await drained(extract as never)
    }
    ;(extract as unknown as { end(): void }).end()
  } catch (err) {
    extract.destroy(err as Error)
    throw err
  }
}

/** Writes all of `buf` at the file position of `fd`, blocking. */
export function writeAllSync(fd: number, buf: Buffer): void {
  for (let off = 0; off < buf.length; ) off += fs.writeSync(fd, buf, off, buf.length - off)
}

export const writeAll = (fd: number, buf: Buffer) =>
  new Promise<void>((resolve, reject) => {
    let off = 0
    const next = () =>
      fs.write(fd, buf, off, buf.length - off, null, (err, n) => {
        if (err) return reject(err)
        off += n
        if (off < buf.length) next()
        else resolve()
      })
    next()
  })

/**
 * Output chunks of gunzip: zlib's default 16 KiB means one threadpool round
 * trip, one callback and (through tar-stream, which slices entry data from
 * its input) one write(2) per 16 KiB of a layer's files; 256 KiB cuts those
 * 16-fold and measured ~20% off a 200 MB pull, for 256 KiB of memory per stream.
 */
const GUNZIP_CHUNK = 256 << 10

/** The longest magic {@link decompressorFor} looks at. */
const magicBytes = Math.max(zstdMagic.length, xzMagic.length, bzip2Magic.length)

/** The decompressor a stream's first bytes call for, as Docker's DecompressStream: gzip, zstd, bzip2, xz, or none (a plain tar). */
function decompressorFor(head: Buffer): Duplex | undefined {
  const starts = (magic: Buffer) => head.subarray(0, magic.length).equals(magic)
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return zlib.createGunzip({ chunkSize: GUNZIP_CHUNK })
  if (starts(zstdMagic)) return createZstdDecompress()
  if (starts(xzMagic)) return createXzDecompress()
  if (starts(bzip2Magic)) return createBzip2Decompress()
  return undefined
}

/**
 * Decompresses the stream when it starts with the gzip, zstd, bzip2 or xz
 * magic; passes it through otherwise. `released` hears each chunk of `src`
 * that nothing here reads any more, so that its memory may be reused: one
 * copied while sniffing, or one gunzip has consumed (zlib copies what it
 * inflates; the other decompressors and a plain tar's reader may keep the
 * chunk itself, so theirs are never released).
 */
export function decompressed(src: Readable, released?: (chunk: Buffer) => void): Readable {
  const out = new PassThrough()
  let head: Buffer | undefined = Buffer.alloc(0)
  let target: Writable = out
  let consumed: ((chunk: Buffer) => void) | undefined
  src.on('error', (err) => out.destroy(err))
  const write = (chunk: Buffer) => {
    const written = consumed && ((err?: Error | null) => (err ? undefined : consumed!(chunk)))
    if (!target.write(chunk, written)) {
      src.pause()
      target.once('drain', () => src.resume())
    }
  }
  /** Picks the decompressor once enough bytes for every magic are in (or the stream ended). */
  const decide = () => {
    const decoder = decompressorFor(head!)
    if (decoder) {
      decoder.on('error', (err) => out.destroy(err))
      decoder.pipe(out)
      target = decoder
      if (decoder instanceof zlib.Gunzip) consumed = released // its write callback runs once zlib took all of the chunk in
    }
    const first = head!
    head = undefined
    if (first.length) write(first)
  }
  src.on('data', (chunk: Buffer) => {
    if (!head) return write(chunk)
    head = Buffer.concat([head, chunk])
    released?.(chunk) // copied
    if (head.length >= magicBytes) decide()
  })
  src.on('end', () => {
    if (head) decide()
    target.end()
  })
  out.on('close', () => {
    if (!src.readableEnded) src.destroy()
  })
  return out
}
