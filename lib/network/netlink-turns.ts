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
 * @module
 */

/** Single-reply requests in flight at once: their replies (a few KB each at most) stay far below a receive buffer. */
export const maxRequestsInFlight = 8

interface Waiter {
  dump: boolean
  go: () => void
}

/** Gives dumps a socket to themselves and lets single-reply requests share it. */
export class NetlinkTurns {
  private requestsInFlight = 0
  private dumping = false
  private readonly waiting: Waiter[] = []

  /** Runs a single-reply request (an ack, or one object) once no dump is under way. */
  request<T>(send: () => Promise<T>): Promise<T> {
    return this.take(false, send)
  }

  /** Runs a dump once nothing else is under way on the socket. */
  dump<T>(send: () => Promise<T>): Promise<T> {
    return this.take(true, send)
  }

  private async take<T>(dump: boolean, send: () => Promise<T>): Promise<T> {
    if (!this.waiting.length && this.fits(dump)) this.enter(dump)
    else await new Promise<void>((go) => this.waiting.push({ dump, go }))
    try {
      return await send()
    } finally {
      this.leave(dump)
      this.wakeWaiting()
    }
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
