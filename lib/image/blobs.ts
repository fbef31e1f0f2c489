/**
 * Blobs (layer archives, image configs, manifests) by sha256 digest, as in
 * an OCI layout: `blobs/sha256/<hex>`. Every write streams into a private
 * temp file while hashing, is checked against the digest (and size) it was
 * announced with, and only then renamed into place: a reader never sees a
 * partial or wrong blob, and two writers of one digest both succeed with
 * one identical file.
 *
 * @module
 */
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { DigestMismatchError, InvalidArgumentError } from '../errors'
import { scratchName, removeStaleScratch } from './scratch'
import { PoolSha256 } from '../sys/pool-sha256'

const digestPattern = /^sha256:[0-9a-f]{64}$/

/** Throws EINVALID unless `digest` is "sha256:" and 64 lowercase hex digits. */
export function checkDigest(digest: string): string {
  if (typeof digest !== 'string' || !digestPattern.test(digest))
    throw new InvalidArgumentError(`invalid digest "${digest}": expected "sha256:" followed by 64 lowercase hex digits`)
  return digest
}

/** "sha256:<hex>" of a buffer. */
export function sha256Of(bytes: Buffer | string): string {
  return `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`
}

/** A pass-through that hashes and counts what flows through it. */
export class Hashing extends Transform {
  private readonly hash = crypto.createHash('sha256')
  /** Bytes seen so far. */
  size = 0

  /** @param limit - fail as soon as more than this many bytes arrive. */
  constructor(private readonly limit?: { bytes: number; what: string }) {
    super()
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.size += chunk.length
    if (this.limit && this.size > this.limit.bytes) return cb(new DigestMismatchError(this.limit.what, `more than the announced ${this.limit.bytes} bytes`))
    this.hash.update(chunk)
    cb(null, chunk)
  }

  /** "sha256:<hex>" of everything that passed (call once, after the end). */
  digest(): string {
    return `sha256:${this.hash.digest('hex')}`
  }
}

/** Chunks a {@link PoolHashing} lets through ahead of their hash: enough to keep the threadpool busy, few enough to bound memory. */
const POOL_HASH_AHEAD = 2

/** A pass-through that hashes what flows through it on the threadpool ({@link PoolSha256}): a layer's diffID. */
export class PoolHashing extends Transform {
  private readonly hash = new PoolSha256()

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    const hashed = this.hash.update(chunk)
    if (this.hash.pending <= POOL_HASH_AHEAD) return cb(null, chunk)
    hashed.then(() => cb(null, chunk))
  }

  /** "sha256:<hex>" of everything that passed (once, after the end). */
  async digest(): Promise<string> {
    return `sha256:${await this.hash.digest()}`
  }
}

/** `digest` when content that hashed to `got` with `gotSize` bytes is the blob announced as `digest` of `size` bytes; EDIGEST otherwise. */
function verified(digest: string, size: number | undefined, got: string, gotSize: number): string {
  const what = `blob ${digest}`
  if (size !== undefined && gotSize !== size) throw new DigestMismatchError(what, `got ${gotSize} bytes, ${size} announced`)
  if (got !== digest) throw new DigestMismatchError(what, `content hashes to ${got}`)
  return digest
}

/** Options of {@link BlobStore.ingest}. */
export interface IngestOptions {
  /** The announced size in bytes: more or fewer is EDIGEST. */
  size?: number
  signal?: AbortSignal
}

/** The blobs of one runtime root. */
export class BlobStore {
  private readonly dir: string
  private readonly tmpDir: string

  constructor(root: string) {
    this.dir = path.join(root, 'blobs', 'sha256')
    this.tmpDir = path.join(root, 'blobs', 'tmp')
    fs.mkdirSync(this.dir, { recursive: true })
    fs.mkdirSync(this.tmpDir, { recursive: true })
    removeStaleScratch(this.tmpDir)
  }

  /** Where the blob of `digest` is (or would be) stored. */
  path(digest: string): string {
    return path.join(this.dir, checkDigest(digest).slice('sha256:'.length))
  }

  /** Whether the blob is stored. */
  has(digest: string): boolean {
    return fs.existsSync(this.path(digest))
  }

  /** Streams `src` in, verified against `digest` (and `opts.size`); a mismatch throws EDIGEST and stores nothing. */
  async ingest(digest: string, src: NodeJS.ReadableStream, opts: IngestOptions = {}): Promise<void> {
    checkDigest(digest)
    await this.write(src, opts, (got, size) => verified(digest, opts.size, got, size))
  }

  /** A fresh temp path for a blob being written elsewhere (a layer worker); see {@link commitTemp}. */
  tempPath(): string {
    return path.join(this.tmpDir, scratchName())
  }

  /**
   * Moves a blob written to a {@link tempPath} into place once it verified:
   * `got` (its content's digest and size) must match `digest` and the
   * announced `size`; otherwise the temp file is removed and EDIGEST thrown.
   */
  commitTemp(tmp: string, digest: string, size: number | undefined, got: { digest: string; size: number }): void {
    try {
      fs.renameSync(tmp, this.path(verified(digest, size, got.digest, got.size)))
    } catch (err) {
      fs.rmSync(tmp, { force: true })
      throw err
    }
  }

  /**
   * Stores a stream under the digest of its content; returns digest, size,
   * and whether the blob is new (a caller undoing its work must not remove a
   * blob that was there before).
   */
  async add(src: NodeJS.ReadableStream | Buffer, opts: { signal?: AbortSignal } = {}): Promise<{ digest: string; size: number; fresh: boolean }> {
    let size = 0
    let fresh = false
    const digest = await this.write(Buffer.isBuffer(src) ? Readable.from([src]) : src, opts, (got, n) => {
      size = n
      fresh = !this.has(got)
      return got
    })
    return { digest, size, fresh }
  }

  /** Stores small bytes we hold (a config, a manifest) under their digest; returns it. */
  put(bytes: Buffer): string {
    const digest = sha256Of(bytes)
    if (this.has(digest)) return digest
    const tmp = path.join(this.tmpDir, scratchName())
    fs.writeFileSync(tmp, bytes, { mode: 0o644 })
    fs.renameSync(tmp, this.path(digest))
    return digest
  }

  /** Reads a whole (small) blob: configs and manifests. */
  read(digest: string): Buffer {
    return fs.readFileSync(this.path(digest))
  }

  /** Size in bytes of a stored blob. */
  size(digest: string): number {
    return fs.statSync(this.path(digest)).size
  }

  /** Deletes a blob (absent is fine). */
  remove(digest: string): void {
    fs.rmSync(this.path(digest), { force: true })
  }

  /** Streams into a temp file, lets `decide` name it from (digest, size) or throw, then renames it into place. */
  private async write(src: NodeJS.ReadableStream, opts: IngestOptions, decide: (digest: string, size: number) => string): Promise<string> {
    const tmp = path.join(this.tmpDir, scratchName())
    const hashing = new Hashing(opts.size === undefined ? undefined : { bytes: opts.size, what: 'blob' })
    const out = fs.createWriteStream(tmp, { mode: 0o644 })
    try {
      await pipeline(src, hashing, out, { signal: opts.signal })
      const digest = decide(hashing.digest(), hashing.size)
      fs.renameSync(tmp, this.path(digest))
      return digest
    } catch (err) {
      // The stream opens its file asynchronously: a pipeline failing first (a short or long blob) settles before the
      // file exists, which a removal then would not find. The stream, destroyed, still opens it, then closes.
      if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve())) // not once(): it rejects at the stream's 'error', before
      fs.rmSync(tmp, { force: true })
      throw err
    }
  }
}
