/**
 * Turns on one netlink socket shared by concurrent callers.
 *
 * The `netlink` package gathers a dump's reply (several messages, ended by
 * DONE) in one slot per socket, and the kernel answers one dump at a time
 * per socket (a second one fails EBUSY). A request's single reply landing
 * between a dump's messages ends that dump early ("Multipart message not
 * terminated properly"). So a dump runs alone; single-reply requests may
 * overlap each other (their replies are matched by sequence number), a few
 * at a time: the package sends everything queued before it reads, and
 * replies beyond the socket's receive buffer make the kernel fail the
 * socket with ENOBUFS, which the package's poll handler turns into a
 * process abort (about 60 link deletions at once did). Turns are given in
 * call order, so a dump is not starved by a stream of requests.
 *
 * With a {@link ReplyBound}, a turn ends when its answer is late: one lost
 * reply (or a dump that never ends) no longer holds every later caller of
 * the socket forever. The socket is then spent: what the kernel sends late
 * (the rest of a dump) would land in the next caller's answer, so waiting
 * and later callers are refused at once, and its owner opens another. The
 * spent socket is closed only once its turns have drained
 * ({@link NetlinkTurns.whenDrained}): a request sent just before the spend
 * has its answer queued on it, unread until the next poll.
 *
 * @module
 */

/** Single-reply requests in flight at once: their replies (a few KB each at most) stay far below a receive buffer. */
export const maxRequestsInFlight = 8

/** How long a turn may wait for its answer, and the error of one that waited longer. */
export interface ReplyBound {
  /** Milliseconds from the send to the answer (the kernel answers in microseconds; the event loop may be slow). */
  ms: number
  /** The error for `what` (the request or dump): it got no answer in time, or (with `spentBy`, why the socket stopped answering) it was not sent. */
  late(what: string, spentBy?: string): Error
}

interface Waiter {
  dump: boolean
  go: () => void
  refuse: (err: Error) => void
  what: string
}

/** Gives dumps a socket to themselves and lets single-reply requests share it. */
export class NetlinkTurns {
  private requestsInFlight = 0
  private dumping = false
  private readonly waiting: Waiter[] = []
  /** Why the socket stopped answering (whose answer was late), once it did: it takes no more turns. */
  private spentBy?: string
  /** What runs once the turns under way have ended ({@link whenDrained}). */
  private onDrained: (() => void)[] = []

  /** @param bound - when given, how long a turn waits for its answer (without, as long as it takes). */
  constructor(private readonly bound?: ReplyBound) {}

  /** Whether a turn's answer was late: the socket's state is unknown, so its owner should replace it. */
  get spent(): boolean {
    return this.spentBy !== undefined
  }

  /** Runs `fn` once no turn is under way (now, when none is); each ends by its bound at the latest. */
  whenDrained(fn: () => void): void {
    if (this.idle) fn()
    else this.onDrained.push(fn)
  }

  private get idle(): boolean {
    return !this.dumping && this.requestsInFlight === 0
  }

  /** Runs a single-reply request (an ack, or one object) once no dump is under way; `what` names it in errors. */
  request<T>(what: string, send: () => Promise<T>): Promise<T> {
    return this.take(false, what, send)
  }

  /** Runs a dump once nothing else is under way on the socket; `what` names it in errors. */
  dump<T>(what: string, send: () => Promise<T>): Promise<T> {
    return this.take(true, what, send)
  }

  private async take<T>(dump: boolean, what: string, send: () => Promise<T>): Promise<T> {
    if (this.spentBy !== undefined) throw this.bound!.late(what, this.spentBy)
    if (!this.waiting.length && this.fits(dump)) this.enter(dump)
    else await new Promise<void>((go, refuse) => this.waiting.push({ dump, go, refuse, what }))
    try {
      return await this.bounded(what, send())
    } finally {
      this.leave(dump)
      this.wakeWaiting()
      if (this.idle) for (const fn of this.onDrained.splice(0)) fn()
    }
  }

  /** `answer`, or the bound's error once it is late (and the socket spent). */
  private bounded<T>(what: string, answer: Promise<T>): Promise<T> {
    const bound = this.bound
    if (!bound) return answer
    return new Promise<T>((resolve, reject) => {
      let settled = false
      const once = (fn: () => void) => () => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        fn()
      }
      // Timers run before the poll phase: an answer that arrived while the loop was blocked is read, and
      // settles first, in this same turn of the loop, before the check phase runs the setImmediate.
      const timer = setTimeout(() => setImmediate(once(() => (this.spend(`${what} got no answer`), reject(bound.late(what))))), bound.ms)
      answer.then(
        (value) => once(() => resolve(value))(),
        (err: unknown) => once(() => reject(err))(),
      )
    })
  }

  /** Marks the socket spent (`why`: it stopped answering, or failed) and refuses every waiting caller; the turns under way end by the bound. */
  markSpent(why: string): void {
    if (this.bound) this.spend(why)
  }

  private spend(why: string): void {
    this.spentBy ??= why
    for (const w of this.waiting.splice(0)) w.refuse(this.bound!.late(w.what, this.spentBy))
  }

  private fits(dump: boolean): boolean {
    return !this.dumping && (dump ? this.requestsInFlight === 0 : this.requestsInFlight < maxRequestsInFlight)
  }

  private enter(dump: boolean): void {
    if (dump) this.dumping = true
    else this.requestsInFlight++
  }

  private leave(dump: boolean): void {
    if (dump) this.dumping = false
    else this.requestsInFlight--
  }

  /** Lets in, in call order, every waiter that fits now (requests up to the cap, or one dump). */
  private wakeWaiting(): void {
    while (this.waiting.length && this.fits(this.waiting[0].dump)) {
      const next = this.waiting.shift()!
      this.enter(next.dump)
      next.go()
    }
  }
}
