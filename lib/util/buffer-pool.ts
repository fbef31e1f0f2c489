/**
 * Buffers of one size taken and given back: a stream of large chunks (a
 * layer download's 1 MiB buffers) reuses a few of them instead of
 * allocating one per chunk and leaving the rest to the garbage collector,
 * whose lag held tens of MiB of dead chunks, and whose marking and the
 * freshly faulted pages cost about a tenth of a pull's CPU.
 *
 * @module
 */

/** A free list of buffers of `size` bytes (at most `keep` wait in it), and the readers each lent buffer still has. */
export class BufferPool {
  private readonly free: Buffer[] = []
  /** Weak: a buffer whose reader never releases it (a plain tar's chunk, kept by its entries) must stay collectable, or an ingest would hold all of its chunks. */
  private readonly readers = new WeakMap<Buffer, number>()

  constructor(
    /** Bytes of every buffer of the pool. */
    readonly size: number,
    private readonly keep = 4,
  ) {}

  /** A buffer of {@link size} bytes of any content: a given-back one when there is one. */
  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafe(this.size)
  }

  /** `buf` goes to `readers` readers: it comes back to the pool once each of them has {@link release}d it. */
  lend(buf: Buffer, readers: number): void {
    this.readers.set(buf, readers)
  }

  /**
   * One reader of `buf` is done with it for good. A buffer not lent (or
   * whose reader gave up without releasing it) is never reused: it is left
   * to the collector, as is a buffer of another size (a short last chunk).
   */
  release(buf: Buffer): void {
    const left = this.readers.get(buf)
    if (left === undefined) return
    if (left > 1) return void this.readers.set(buf, left - 1)
    this.readers.delete(buf)
    if (buf.length === this.size && this.free.length < this.keep) this.free.push(buf)
  }
}
