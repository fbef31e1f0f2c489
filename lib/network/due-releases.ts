/**
 * Container releases asked for but not run yet. An exit's release is asked
 * for before its wait() resolves and run a turn of the event loop later,
 * at its own place in the network service's queue: holding that queue
 * during the turn made the next start wait (2 ms of a bridge start) for
 * work that start does not depend on. Meanwhile, an operation that must
 * see a release done (a start publishing ports, one on a user network the
 * leaving container was on, the same container starting again, removing a
 * network) runs it first, in its own turn of the queue.
 *
 * @module
 */

/** A release asked for, with its outcome. */
interface DueRelease {
  run: () => Promise<void>
  done: Promise<void>
}

/** Releases due, by container id, in the order they were asked for. */
export class DueReleases {
  private readonly due = new Map<string, DueRelease>()

  /**
   * Makes `work` due for `containerId` and returns its outcome. When one is due for it already, that
   * one stands (it has not begun: it will see everything this one would) and its outcome is returned.
   */
  add(containerId: string, work: () => Promise<void>): Promise<void> {
    const already = this.due.get(containerId)
    if (already) return already.done
    let begin!: () => void
    const begun = new Promise<void>((resolve) => (begin = resolve))
    const done = begun.then(work)
    this.due.set(containerId, {
      done,
      run: () => {
        begin()
        return done
      },
    })
    return done
  }

  /** Runs the release due for `containerId`, if one is, and waits for it; its failure is its asker's, not the caller's. */
  async run(containerId: string): Promise<void> {
    const release = this.due.get(containerId)
    if (!release) return
    this.due.delete(containerId)
    await release.run().catch(() => undefined)
  }

  /** Runs every release due, one after the other in the order asked for ({@link run}). */
  async runAll(): Promise<void> {
    for (const id of [...this.due.keys()]) await this.run(id)
  }

  /** The containers whose release is due. */
  containers(): string[] {
    return [...this.due.keys()]
  }
}
