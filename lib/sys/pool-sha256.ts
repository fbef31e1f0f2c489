/**
 * SHA-256 on libuv's threadpool. A pull is bound by the main thread, and
 * its two hashes of every layer (the blob as received, the diffID of the
 * tar) were a quarter of that thread's CPU. Here each update is OpenSSL's
 * SHA256_Update, which the node binary itself exports (its crypto is
 * OpenSSL, linked in or shared), called through koffi's asynchronous calls:
 * no worker isolate (a worker thread cost ~10 MB of peak RSS) and no copy of
 * the bytes. Without those symbols (another build of Node) it falls back to
 * node:crypto on this thread.
 *
 * @module
 */
import * as crypto from 'node:crypto'
import koffi from './koffi'
import { inAsyncSlot } from './koffi-async'

/** SHA256_Init, SHA256_Update and SHA256_Final of the process's own OpenSSL. */
interface OpenSslSha256 {
  init: (ctx: Buffer) => number
  update: ((ctx: Buffer, data: Buffer, len: number) => number) & { async: (ctx: Buffer, data: Buffer, len: number, cb: (err: unknown) => void) => void }
  final: (md: Buffer, ctx: Buffer) => number
}

let openssl: OpenSslSha256 | null | undefined

/** The process's OpenSSL SHA-256 functions, once; null when the process does not export them. */
function opensslSha256(): OpenSslSha256 | null {
  if (openssl !== undefined) return openssl
  try {
    const self = koffi.load(null)
    openssl = {
      init: self.func('int SHA256_Init(uint8_t *ctx)'),
      update: self.func('int SHA256_Update(uint8_t *ctx, const uint8_t *data, size_t len)'),
      final: self.func('int SHA256_Final(_Out_ uint8_t *md, uint8_t *ctx)'),
    } as unknown as OpenSslSha256
  } catch {
    openssl = null
  }
  return openssl
}

/** SHA256_CTX is 112 bytes in OpenSSL and BoringSSL; room to spare. */
const CTX_BYTES = 256
/**
 * A chunk up to this size, with no update queued before it, is hashed here: well under 0.1 ms, less than
 * the threadpool round trip (a small layer's whole tar, an image config; under load a round trip waits
 * for a worker to be scheduled).
 */
const SYNC_HASH_MAX = 64 << 10

/**
 * One SHA-256, its updates run in order on the threadpool. A chunk must not
 * change until its update resolved (chunks of a download and of gunzip are
 * never written again once passed on).
 */
export class PoolSha256 {
  private readonly ctx?: Buffer
  private readonly onThread?: crypto.Hash
  /** The last queued update; each one starts once the one before is done. */
  private chain: Promise<void> = Promise.resolve()
  private failure: unknown
  /** Updates queued and not yet done. */
  pending = 0

  constructor() {
    const fns = opensslSha256()
    if (!fns) this.onThread = crypto.createHash('sha256')
    else {
      this.ctx = Buffer.alloc(CTX_BYTES)
      fns.init(this.ctx)
    }
  }

  /** Queues `chunk`; resolves once it is hashed (never rejects: a failure is {@link digest}'s). */
  update(chunk: Buffer): Promise<void> {
    if (this.onThread) {
      this.onThread.update(chunk)
      return this.chain
    }
    if (chunk.length <= SYNC_HASH_MAX && this.pending === 0) {
      if (!this.failure) opensslSha256()!.update(this.ctx!, chunk, chunk.length)
      return this.chain
    }
    this.pending++
    this.chain = this.chain.then(() => this.hashOnPool(chunk))
    return this.chain
  }

  private async hashOnPool(chunk: Buffer): Promise<void> {
    try {
      if (this.failure) return
      await inAsyncSlot(() => new Promise<void>((resolve, reject) =>
        opensslSha256()!.update.async(this.ctx!, chunk, chunk.length, (err) => {
          void chunk // named here, so that it stays alive until the threadpool is done with its bytes
          if (err) reject(err)
          else resolve()
        }),
      ))
    } catch (err) {
      this.failure = err
    } finally {
      this.pending--
    }
  }

  /** The hex digest of everything updated, once every update is done (call once). */
  async digest(): Promise<string> {
    if (this.onThread) return this.onThread.digest('hex')
    await this.chain
    if (this.failure) throw this.failure
    const md = Buffer.alloc(32)
    opensslSha256()!.final(md, this.ctx!)
    return md.toString('hex')
  }
}
