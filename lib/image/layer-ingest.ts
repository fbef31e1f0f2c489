/**
 * One pass over a layer download: its bytes are written to the blob's temp
 * file while hashed, and at the same time decompressed, hashed again (the
 * diffID) and unpacked into a scratch directory. Nothing here is visible to
 * readers: the store (./layers) verifies the blob's digest and only then
 * moves the blob and the layer into place.
 *
 * @module
 */
import * as fs from 'node:fs'
import { once } from 'node:events'
import { PassThrough, type Readable } from 'node:stream'
import { InvalidArgumentError, MiniContainerError } from '../errors'
import { applyLayer } from '../files/diff'
import type { OwnerLedger } from '../files/owner-ledger'
import { decompressed, writeAll, writeAllSync } from '../files/tar-streams'
import { diskUsage } from '../files/disk-usage'
import { PoolHashing } from './blobs'
import { PoolSha256 } from '../sys/pool-sha256'
import { BufferPool } from '../util/buffer-pool'
import { coalesce, COALESCE_BYTES } from '../util/coalesce'

/** Where a layer ingest writes: both paths are private scratch of the store. */
export interface LayerIngest {
  /** The blob's temp file (created by the ingest). */
  blobTmp: string
  /** An existing empty directory to unpack the layer into. */
  diffDir: string
  /** The blob's digest, for error messages. */
  blobDigest: string
  /** Where the unpack records the owners it leaves to be given afterwards (rootless). */
  owners?: OwnerLedger
  /** The layer is mounted with userxattr (rootless): its opaque directories are marked user.overlay.opaque. */
  userxattr?: boolean
}

/** What a layer ingest produced. */
export interface LayerIngestResult {
  /** "sha256:<hex>" and byte count of the blob as received. */
  blobDigest: string
  blobSize: number
  /** The unpacked layer: its diffID and bytes of its files; absent when the unpack failed. */
  layer?: { diffId: string; size: number }
  /** Why the unpack failed (the blob was still received whole: its digest decides which error wins). */
  unpackError?: unknown
}

/** How {@link unpackInto} writes a layer, and whom it tells of the chunks of its source it is done with. */
type UnpackMode = Pick<LayerIngest, 'owners' | 'userxattr'> & { released?: (chunk: Buffer) => void }

/**
 * Unpacks a layer archive (gzip, zstd or plain tar, sniffed) into `diffDir`
 * with overlay whiteouts; returns its diffID and the bytes of its files.
 * With `owners`, each entry's owner is recorded there too; with `userxattr`,
 * opaque directories get overlay's user.* mark (a rootless runtime's mounts).
 * A broken archive is EINVALID naming the blob.
 */
export async function unpackInto(diffDir: string, src: Readable, blobDigest: string, { owners, userxattr, released }: UnpackMode = {}): Promise<{ diffId: string; size: number }> {
  const hashing = new PoolHashing()
  const plain = decompressed(src, released)
  plain.on('error', (err) => hashing.destroy(err))
  await applyLayer(diffDir, plain.pipe(hashing), { whiteouts: userxattr ? 'overlay-userxattr' : 'overlay', owners }).catch((err) => {
    throw layerError(blobDigest, err)
  })
  return { diffId: await hashing.digest(), size: await diskUsage(diffDir) }
}

/**
 * Runs a layer ingest over `src` (the blob's bytes), re-chunked into 1 MiB
 * buffers (few writes and stream turns) from a pool: a buffer is reused
 * once its hash, its blob write and the unpacker are all done with it. The
 * blob side reads every chunk even after the unpack failed, so that a
 * tampered blob is still told apart (EDIGEST) from a broken archive.
 * Rejects (after closing what it opened) only when `src` fails or the temp
 * file cannot be written; the caller removes both paths whenever it does
 * not commit them.
 */
export async function ingestLayerPass(job: LayerIngest, src: AsyncIterable<Buffer>): Promise<LayerIngestResult> {
  const pool = new BufferPool(COALESCE_BYTES)
  const toLayer = new PassThrough({ highWaterMark: 1 << 20 })
  let unpackError: unknown
  const released = (chunk: Buffer) => pool.release(chunk)
  const unpack = unpackInto(job.diffDir, toLayer, job.blobDigest, { ...job, released }).catch((err) => {
    unpackError = err
    toLayer.destroy()
    return undefined
  })
  let blob: { blobDigest: string; blobSize: number }
  try {
    blob = await blobPass(job.blobTmp, lentThrice(coalesce(src, pool), pool), async (chunk) => {
      if (toLayer.destroyed) released(chunk)
      else if (!toLayer.write(chunk)) await drainedOrGone(toLayer)
    }, released)
    toLayer.end()
  } catch (err) {
    toLayer.destroy(err as Error) // with the error: a plain destroy() would leave the unpacker waiting for an end
    await unpack
    throw err
  }
  const layer = await unpack
  return { ...blob, ...(layer ? { layer } : { unpackError }) }
}

/**
 * Writes `chunks` to the blob's temp file `blobTmp` (created here) while
 * hashing them, each also handed to `each` (awaited: its backpressure);
 * returns the blob's digest and size. Rejects (after closing the file) when
 * `chunks` fails or the file cannot be written; the caller removes it.
 */
export async function blobPass(blobTmp: string, chunks: AsyncIterable<Buffer>, each?: (chunk: Buffer) => Promise<void>, released?: (chunk: Buffer) => void): Promise<{ blobDigest: string; blobSize: number }> {
  const hash = new PoolSha256()
  let hashing: Promise<void> = Promise.resolve()
  let blobSize = 0
  const fd = fs.openSync(blobTmp, 'wx', 0o644)
  // One blob write and one blob hash in flight, on the threadpool: this thread (a pull's bottleneck) unpacks the
  // next chunk meanwhile (its diffID is hashed there too: PoolHashing). Writing into fresh page-cache pages costs
  // milliseconds per MiB on some machines; done here synchronously, it took a fifth of this thread's time.
  let writing: Promise<void> = Promise.resolve()
  try {
    for await (const chunk of chunks) {
      await hashing
      hashing = hash.update(chunk)
      if (released) void hashing.then(() => released(chunk)) // never rejects
      blobSize += chunk.length
      await writing
      writing = chunk.length <= SYNC_WRITE_MAX ? writtenHere(fd, chunk) : writeAll(fd, chunk)
      writing.then(() => released?.(chunk), () => undefined) // awaited at the next chunk or the end; not an unhandled rejection meanwhile
      await each?.(chunk)
    }
    await Promise.all([writing, hashing])
  } catch (err) {
    await writing.catch(() => undefined) // the fd stays open until its last write is done
    throw err
  } finally {
    fs.closeSync(fd)
  }
  return { blobDigest: `sha256:${await hash.digest()}`, blobSize }
}

/** A chunk up to this size is written here: a small blob's one write costs less than a threadpool round trip. */
const SYNC_WRITE_MAX = 64 << 10

/** Writes `chunk` to `fd` here, as a settled promise (a failure rejects it, as writeAll's would). */
function writtenHere(fd: number, chunk: Buffer): Promise<void> {
  try {
    writeAllSync(fd, chunk)
    return Promise.resolve()
  } catch (err) {
    return Promise.reject(err)
  }
}

/** Lends each chunk of `chunks` to three readers (the blob's hash, its write, the unpacker) as it passes. */
async function* lentThrice(chunks: AsyncIterable<Buffer>, pool: BufferPool): AsyncIterable<Buffer> {
  for await (const chunk of chunks) {
    pool.lend(chunk, 3)
    yield chunk
  }
}

/** Resolves when the stream drained, or was destroyed (its reader gave up). */
async function drainedOrGone(stream: PassThrough): Promise<void> {
  const ac = new AbortController()
  await Promise.race([once(stream, 'drain', { signal: ac.signal }), once(stream, 'close', { signal: ac.signal })]).finally(() => ac.abort())
}

/** Our own coded errors pass (EUNSAFE...); a broken tar or compressed stream says which blob. */
function layerError(blobDigest: string, err: unknown): Error {
  if (err instanceof MiniContainerError && err.code !== 'ESYSCALL') return err
  return new InvalidArgumentError(`layer blob ${blobDigest} is not a valid tar, tar+gzip or tar+zstd archive (${(err as Error).message})`)
}
