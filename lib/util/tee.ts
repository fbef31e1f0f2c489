/**
 * One stream read by two consumers at the pace of the slower one: a layer
 * download feeds the blob store (which verifies its digest) and the unpacker
 * at once, instead of being written to disk and read back.
 *
 * @module
 */
import { once } from 'node:events'
import { PassThrough, type Readable } from 'node:stream'

/** Bytes each branch buffers before the source waits for it. */
const BRANCH_BUFFER = 256 << 10

/**
 * Two readables carrying every chunk of `src`. A branch its consumer
 * destroyed is dropped and the other one still gets everything. When
 * `signal` fires (the caller cancelled, or a consumer gave up) both branches
 * are destroyed with its reason and `src` is no longer read; a failing `src`
 * destroys both with its error.
 */
export function tee(src: AsyncIterable<Buffer>, signal: AbortSignal): [Readable, Readable] {
  const branches = [new PassThrough({ highWaterMark: BRANCH_BUFFER }), new PassThrough({ highWaterMark: BRANCH_BUFFER })]
  ;(async () => {
    for await (const chunk of src) {
      signal.throwIfAborted()
      const full = branches.filter((b) => !b.destroyed && !b.write(chunk))
      if (full.length) await Promise.all(full.map((b) => writable(b, signal)))
    }
    for (const b of branches) b.end()
  })().catch((err) => {
    for (const b of branches) b.destroy(signal.aborted ? signal.reason : err)
  })
  return [branches[0], branches[1]]
}

/** Resolves when `branch` drained or was destroyed (by its consumer); rejects when `signal` fires. */
function writable(branch: PassThrough, signal: AbortSignal): Promise<unknown> {
  const ac = new AbortController()
  const stop = AbortSignal.any([signal, ac.signal])
  return Promise.race([once(branch, 'drain', { signal: stop }), once(branch, 'close', { signal: stop })]).finally(() => ac.abort())
}
