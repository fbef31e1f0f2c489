/**
 * SHA-256 on a worker thread. A pull hashes every layer twice (the blob as
 * received, the tar as decompressed: its diffID), and on the main thread
 * that was a sixth of the thread a pull is bound by; the worker does it on
 * the other core. Bytes reach it through a shared ring of {@link RING} bytes
 * (one memcpy per chunk here, no allocation, so no garbage to raise the
 * peak RSS), and a full ring makes {@link Sha256Job.update} wait: memory
 * stays bounded however far behind the worker falls.
 *
 * One worker serves every job of the process in order; it is held (ref'd)
 * only while a job is open, and ends after {@link IDLE_MS} without jobs.
 *
 * @module
 */
import { Worker } from 'node:worker_threads'
import { InternalError } from '../errors'

/** Bytes of the ring shared with the worker. */
const RING = 2 << 20
/** Most bytes one message hands over. */
const PIECE = 1 << 20
/** The worker ends after this long without an open job. */
const IDLE_MS = 5000

/** Atomics.waitAsync (V8 8.7, Node 16): in the runtime, not in this TypeScript target's lib. */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, index: number, value: number): { async: boolean; value: Promise<string> | string } }).waitAsync

/** The worker: hashes ring pieces by job id in arrival order, counts the ring bytes it is done with, answers digests. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const ring = new Uint8Array(workerData.ring)
const done = new Int32Array(workerData.done)
const hashes = new Map()
parentPort.on('message', ([op, id, off, len, used]) => {
  if (op === 'update') {
    let h = hashes.get(id)
    if (!h) hashes.set(id, (h = createHash('sha256')))
    h.update(ring.subarray(off, off + len))
    Atomics.add(done, 0, used)
    Atomics.notify(done, 0)
  } else if (op === 'digest') {
    const h = hashes.get(id) || createHash('sha256')
    hashes.delete(id)
    parentPort.postMessage([id, h.digest('hex')])
  } else hashes.delete(id)
})
`

/** The worker, its ring, and the jobs waiting for a digest. */
class HashThread {
  private readonly worker: Worker
  private readonly ring = new Uint8Array(new SharedArrayBuffer(RING))
  /** Ring bytes the worker is done with, mod 2^32 (it adds, we read). */
  private readonly done = new Int32Array(new SharedArrayBuffer(4))
  /** Ring bytes handed over, mod 2^32. */
  private sent = 0
  private pos = 0
  private open = 0
  private nextId = 1
  private idle?: NodeJS.Timeout
  private readonly digests = new Map<number, { resolve: (hex: string) => void; reject: (err: Error) => void }>()
  /** Why the worker is gone (it crashed, or ended idle): the jobs it held fail with it. */
  failure?: Error

  constructor() {
    // Small heaps: it holds a few hash states and short messages, and every MiB of it is a pull's peak RSS.
    const resourceLimits = { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 }
    this.worker = new Worker(WORKER_SOURCE, { eval: true, resourceLimits, workerData: { ring: this.ring.buffer, done: this.done.buffer } })
    this.worker.on('message', ([id, hex]: [number, string]) => {
      this.digests.get(id)?.resolve(hex)
      this.digests.delete(id)
      this.release()
    })
    this.worker.on('error', (err) => this.fail(new InternalError(`the SHA-256 worker thread failed: ${err.message}`, err)))
    this.worker.on('exit', (code) => this.fail(new InternalError(`the SHA-256 worker thread exited (code ${code})`)))
  }

  /** A new job's id; the worker is held while jobs are open. */
  openJob(): number {
    if (this.open++ === 0) {
      clearTimeout(this.idle)
      this.worker.ref()
    }
    return this.nextId++
  }

  /** Ends a job: with its digest (the job stays open, holding the worker, until the answer), or dropped. */
  closeJob(id: number, digest?: { resolve: (hex: string) => void; reject: (err: Error) => void }): void {
    if (digest) this.digests.set(id, digest)
    this.worker.postMessage([digest ? 'digest' : 'drop', id])
    if (!digest) this.release()
  }

  /** One job fewer; the last one lets the worker go idle. */
  private release(): void {
    if (--this.open > 0) return
    this.worker.unref()
    this.idle = setTimeout(() => {
      this.fail(new InternalError('the SHA-256 worker thread ended while idle'))
      void this.worker.terminate()
    }, IDLE_MS).unref()
  }

  /** Hands `bytes` (at most {@link PIECE}) to job `id`; false, handing over nothing, while the ring lacks room. */
  trySend(id: number, bytes: Uint8Array): boolean {
    // A piece never wraps: when it does not fit before the end, the tail is skipped (and counted as used until the worker passes it).
    const wrap = this.pos + bytes.length > RING
    const used = bytes.length + (wrap ? RING - this.pos : 0)
    if (RING - ((this.sent - Atomics.load(this.done, 0)) >>> 0) < used) return false
    if (wrap) this.pos = 0
    this.ring.set(bytes, this.pos)
    this.worker.postMessage(['update', id, this.pos, bytes.length, used])
    this.pos += bytes.length
    this.sent = (this.sent + used) | 0
    return true
  }

  /** Resolves once the worker freed some of the ring (or failed). */
  async roomFreed(): Promise<void> {
    const seen = Atomics.load(this.done, 0)
    const wait = waitAsync(this.done, 0, seen)
    if (wait.async) await wait.value
  }

  private fail(err: Error): void {
    if (this.failure) return
    this.failure = err
    if (thread === this) thread = undefined
    for (const d of this.digests.values()) d.reject(err)
    this.digests.clear()
    Atomics.notify(this.done, 0) // wakes an update waiting for room, which then sees the failure
  }
}

let thread: HashThread | undefined

/** One SHA-256 computed on the worker thread: {@link update} in order, then {@link digest} or {@link abandon} once. */
export class Sha256Job {
  private readonly thread: HashThread
  private readonly id: number
  private closed = false

  constructor() {
    this.thread = thread ??= new HashThread()
    this.id = this.thread.openJob()
  }

  /** Adds `bytes`; returns a promise only when it had to wait for room in the ring (await it before the next update). */
  update(bytes: Uint8Array): Promise<void> | undefined {
    for (let off = 0; off < bytes.length; ) {
      if (this.thread.failure) throw this.thread.failure
      const piece = bytes.subarray(off, off + PIECE)
      if (!this.thread.trySend(this.id, piece)) return this.thread.roomFreed().then(() => this.update(bytes.subarray(off)))
      off += piece.length
    }
    return undefined
  }

  /** The hex digest of everything added. */
  digest(): Promise<string> {
    if (this.thread.failure) return Promise.reject(this.thread.failure)
    this.closed = true
    return new Promise((resolve, reject) => this.thread.closeJob(this.id, { resolve, reject }))
  }

  /** Drops the job without a digest (a failed ingest); a no-op after {@link digest}. */
  abandon(): void {
    if (this.closed) return
    this.closed = true
    if (!this.thread.failure) this.thread.closeJob(this.id)
  }
}
