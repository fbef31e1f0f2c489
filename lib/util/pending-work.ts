/**
 * Work begun in the background that someone must be able to wait for: an
 * `rm: true` container's files are deleted after wait() has answered, and
 * Runtime.close() must not return (nor remove the root) while they are.
 *
 * @module
 */

/** A set of background promises, each forgotten once it settles. */
export class PendingWork {
  private readonly pending = new Set<Promise<unknown>>()

  /** Remembers `work` until it settles; returns it. */
  track<T>(work: Promise<T>): Promise<T> {
    this.pending.add(work)
    const forget = () => this.pending.delete(work)
    work.then(forget, forget)
    return work
  }

  /** Resolves once everything tracked so far (and what it tracks meanwhile) has settled. */
  async settled(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending])
  }
}
