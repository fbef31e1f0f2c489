/**
 * Work begun in the background that someone must be able to wait for: an
 * `rm: true` container's files are deleted after wait() has answered, and
 * Runtime.close() must not return (nor remove the root) while they are.
 *
 * @module
 */

/** setInterval's longest delay: the keep-alive timer never fires in practice. */
const neverMs = 0x7fffffff

/**
 * A set of background promises, each forgotten once it settles. While any
 * is pending a ref'd timer keeps the Node process alive: a program whose
 * last work is `await c.wait()` on an `rm: true` container must not exit
 * before its removal ends (the shim's socket, unref'd, would not hold it).
 * Every user's work is bounded (an exit's settling, a removal, a lock file's
 * unlink), so the process is kept only as long as that work takes.
 */
export class PendingWork {
  private readonly pending = new Set<Promise<unknown>>()
  private keepAlive: NodeJS.Timeout | undefined

  /** Remembers `work` until it settles; returns it. */
  track<T>(work: Promise<T>): Promise<T> {
    this.pending.add(work)
    this.keepAlive ??= setInterval(() => {}, neverMs)
    const forget = () => {
      this.pending.delete(work)
      if (this.pending.size) return
      clearInterval(this.keepAlive)
      this.keepAlive = undefined
    }
    work.then(forget, forget)
    return work
  }

  /** Resolves once everything tracked so far (and what it tracks meanwhile) has settled. */
  async settled(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending])
  }
}
