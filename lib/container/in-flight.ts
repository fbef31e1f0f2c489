/**
 * The starts under way in one runtime, so that `close()` can stop what they
 * make: a start that close() did not know of finished after it and left a
 * program running without the bridge and nf_tables table close() had removed.
 * Once closing, new starts are refused; close() waits for those under way
 * to settle, then stops what they made.
 *
 * @module
 */
import { RuntimeClosedError } from '../errors'

/** The creates and starts of one runtime that are under way, and whether it still admits new ones. */
export class InFlightStarts {
  private closing = false
  private readonly pending = new Set<Promise<unknown>>()

  /**
   * @param root - the runtime's root, named in the refusal.
   * @param precondition - when given, what every create and start waits for first, and rejects with when it rejects (a rootless runtime's user namespace check).
   */
  constructor(
    private readonly root: string,
    private readonly precondition?: () => Promise<void>,
  ) {}

  /** Runs `start`, known to {@link settleAndRefuse} until it settles; ECLOSED without running it once the runtime closes. */
  track<T>(what: string, start: () => Promise<T>): Promise<T> {
    try {
      this.refuseIfClosing(what)
    } catch (err) {
      return Promise.reject(err)
    }
    const started = this.precondition ? this.precondition().then(start) : start()
    this.pending.add(started)
    const forget = () => this.pending.delete(started)
    started.then(forget, forget)
    return started
  }

  /** Whether the runtime has begun to close (it then admits no new start). */
  get closed(): boolean {
    return this.closing
  }

  /** ECLOSED once the runtime closes: for what starts a process but need not be waited for (an exec ends with its container). */
  refuseIfClosing(what: string): void {
    if (this.closing) throw new RuntimeClosedError(this.root, what)
  }

  /** Refuses every new start from now on, and resolves once the starts under way have settled (succeeded or failed). */
  async settleAndRefuse(): Promise<void> {
    this.closing = true
    // Nothing joins the set from here on: a run between its create and its start is refused at the start.
    await Promise.allSettled([...this.pending])
  }
}
