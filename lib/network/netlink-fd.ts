/**
 * The transport under the `netlink` package's NetlinkSocket: a netlink socket this thread writes
 * and reads itself (native/netlink-io.c), with no event-loop handle, in place of the package's
 * native addon.
 *
 * The addon watches each socket with a libuv poll handle whose callback calls into JavaScript
 * unguarded: when a worker_thread is terminated while an answer or a send completion is due, that
 * callback runs after V8 stopped the worker's JavaScript, the failed call becomes a node-addon-api
 * Error, and making that Error fails too: a fatal error, the whole process aborted. Nothing here
 * is left for the loop to call: the kernel answers an rtnetlink or nf_tables request while it is
 * being sent, so the answers are read right after the send, and handed to the package's listeners
 * on a microtask (after `send` returned, as its request() registers its waiter then). A request
 * found unanswered is looked at again a few times (unreferenced timers) in case an answer is late.
 *
 * A socket made `onWorker` sends on a libuv worker instead (one send at a time, in call order, so
 * requests sent together are still handled in that order), and reads the answers once the send has
 * returned: work kept off a start's path (warm endpoints) no longer holds the event loop while the
 * kernel waits for the rtnl lock. Its fd is closed once no send is under way on it.
 *
 * @module
 */
import { EventEmitter } from 'node:events'
import './pin-netlink-addon' // before the package: see there
import { NetlinkSocket, type Protocol, type RawNetlinkSocket } from 'netlink'
import { InternalError, SyscallError } from '../errors'
import { closeQuietly } from '../sys/libc'
import { growReceiveBuffer, netlinkPortOf, netlinkQuietOverruns, openNetlinkFd, receiveBufferSize, receiveNetlink, sendNetlink, sendNetlinkOnWorker, type NetlinkDatagram } from '../sys/sockets'

/** When an unanswered send's socket is read again (ms after the previous look): about 1.4 s in all. */
const lateLooksMs = [1, 4, 16, 64, 256, 1024]

/** Where a send goes (the package's send options: kernel port 0, no groups by default). */
interface SendTarget {
  port?: number
  groups?: number
}

/** A failed send or receive as the package's addon reported one: an Error whose `code` is the errno name. */
function asErrnoException(err: unknown): Error {
  if (!(err instanceof SyscallError)) return err as Error
  return Object.assign(new Error(err.message), { code: err.errno, syscall: err.syscall })
}

/** How a {@link NetlinkFd} sends. */
export interface NetlinkFdOptions {
  /** On a libuv worker, one datagram at a time (see the module's comment); default: on the calling thread. */
  onWorker?: boolean
}

/** A request waiting for a worker's send. */
interface QueuedSend {
  bytes: Buffer
  port: number
  groups: number
  callback?: (error?: Error) => void
}

/** NLM_F_DUMP (NLM_F_ROOT | NLM_F_MATCH), in a message's flags at byte 6. */
const NLM_F_DUMP = 0x300

/** Whether the netlink message `bytes` asks for a dump (its answers are made as they are read: sent alone). */
function isDump(bytes: Buffer): boolean {
  return bytes.length >= 8 && (bytes.readUInt16LE(6) & NLM_F_DUMP) === NLM_F_DUMP
}

/** Whether two queued requests can share a datagram: the same destination, neither a dump. */
function joinable(a: QueuedSend, b: QueuedSend): boolean {
  return a.port === b.port && a.groups === b.groups && !isDump(a.bytes) && !isDump(b.bytes)
}

/** Netlink messages as one datagram: the kernel reads each message at a 4-byte boundary (NLMSG_ALIGN), so each is padded to one. */
function oneDatagram(messages: Buffer[]): Buffer {
  if (messages.length === 1) return messages[0]!
  return Buffer.concat(messages.flatMap((m) => (m.length % 4 ? [m, Buffer.alloc(4 - (m.length % 4))] : [m])))
}

/** The RawNetlinkSocket interface the package's NetlinkSocket uses, over a netlink socket fd. */
export class NetlinkFd extends EventEmitter {
  private open = true
  private lateLook: NodeJS.Timeout | undefined
  /** With `onWorker`: requests not sent yet, in call order. */
  private readonly queued: QueuedSend[] = []
  /** With `onWorker`: whether a flush of {@link queued} is scheduled or under way. */
  private flushing = false

  /** @param fd - a bound netlink socket (owned from now on); @param port - its netlink port; @param opts - how it sends. */
  constructor(
    readonly fd: number,
    private readonly port: number,
    private readonly opts: NetlinkFdOptions = {},
  ) {
    super()
  }

  /** Sends `data` and reads what it was answered; `callback` (or an 'error' event) and the answers ('message') come on a microtask, or once a worker sent it. */
  send(data: Buffer | Buffer[], target: SendTarget | undefined, callback?: (error?: Error) => void): void {
    if (!this.open) throw new Error('Netlink socket is closed')
    const bytes = Array.isArray(data) ? Buffer.concat(data) : data
    if (this.opts.onWorker) return this.sendOnWorker({ bytes, port: target?.port ?? 0, groups: target?.groups ?? 0, callback })
    let error: Error | undefined
    try {
      sendNetlink(this.fd, bytes, target?.port ?? 0, target?.groups ?? 0)
    } catch (err) {
      error = asErrnoException(err)
    }
    const answers = error ? [] : this.readQueued()
    queueMicrotask(() => this.settle(error, answers, [callback]))
  }

  /**
   * Queues `req` for a worker's send. Requests made in the same turn of the event loop, or while a
   * send is under way, go as one datagram: the kernel handles a datagram's messages one after the
   * other and answers each as if sent alone, and every thread hop saved is a wait for the CPU saved
   * on a busy machine.
   */
  private sendOnWorker(req: QueuedSend): void {
    this.queued.push(req)
    if (this.flushing) return
    this.flushing = true
    setImmediate(() => void this.flush())
  }

  /** Sends the queued requests, a datagram at a time, then closes the fd if the socket was closed meanwhile. */
  private async flush(): Promise<void> {
    while (this.queued.length) {
      let n = 1
      while (n < this.queued.length && joinable(this.queued[0]!, this.queued[n]!)) n++
      const batch = this.queued.splice(0, n)
      let error: Error | undefined
      try {
        // Closed while they waited: never sent.
        if (!this.open) throw new Error('Netlink socket is closed')
        await sendNetlinkOnWorker(this.fd, oneDatagram(batch.map((r) => r.bytes)), batch[0]!.port, batch[0]!.groups)
      } catch (err) {
        error = asErrnoException(err)
      }
      try {
        this.settle(error, error ? [] : this.readQueued(), batch.map((r) => r.callback))
      } catch (err) {
        // A listener that throws does so uncaught, as on the calling thread's path, and the next requests still go.
        queueMicrotask(() => {
          throw err
        })
      }
    }
    this.flushing = false
    // Not while a worker's send used it: the number could meanwhile be another file's.
    if (!this.open) closeQuietly(this.fd)
  }

  /** Reports a send's outcome to each of its requests' callbacks, hands its answers over, and looks again later when none came yet. */
  private settle(error: Error | undefined, answers: NetlinkDatagram[], callbacks: (((error?: Error) => void) | undefined)[]): void {
    for (const callback of callbacks) {
      if (callback) callback(error)
      else if (error) this.emit('error', error)
    }
    this.deliver(answers)
    if (!error && !answers.length) this.lookLater(0)
  }

  /** Every datagram queued on the socket (a dump's next part is made as the previous one is read); none once it is closed. */
  private readQueued(): NetlinkDatagram[] {
    const read: NetlinkDatagram[] = []
    if (!this.open) return read
    try {
      for (let d = receiveNetlink(this.fd); d; d = receiveNetlink(this.fd)) read.push(d)
    } catch (err) {
      queueMicrotask(() => this.emit('error', asErrnoException(err)))
    }
    return read
  }

  private deliver(answers: NetlinkDatagram[]): void {
    for (const d of answers) if (this.open) this.emit('message', d.data, { port: d.port, groups: 0 })
  }

  /** Reads the socket again after lateLooksMs[step], until something came or the looks ran out; one chain at a time. */
  private lookLater(step: number): void {
    if (!this.open || this.lateLook || step >= lateLooksMs.length) return
    this.lateLook = setTimeout(() => {
      this.lateLook = undefined
      const answers = this.readQueued()
      if (answers.length) this.deliver(answers)
      else this.lookLater(step + 1)
    }, lateLooksMs[step]).unref()
  }

  /** Closes the socket; answers not yet handed over are dropped. */
  close(): void {
    if (!this.open) return
    this.open = false
    clearTimeout(this.lateLook)
    // A flush scheduled or under way closes it once no worker's send uses it.
    if (!this.flushing) closeQuietly(this.fd)
    this.emit('close')
  }

  /** Its netlink address. */
  address(): { port: number; groups: number } {
    return { port: this.port, groups: 0 }
  }

  /** No handle keeps the event loop alive: nothing to reference. */
  ref(): void {}

  /** No handle keeps the event loop alive: nothing to unreference. */
  unref(): void {}

  /** SO_RCVBUF, as the kernel reports it. */
  getRecvBufferSize(): number {
    return receiveBufferSize(this.fd)
  }
}

/**
 * A `netlink` package socket over `fd`, a bound netlink socket of `protocol` made here or received
 * from another process (another namespace's: ./netns-sockets); takes ownership of `fd`. Overruns of
 * its receive buffer drop answers without a socket error (NETLINK_NO_ENOBUFS): the caller's bound
 * sees a dropped answer.
 */
export function netlinkOverFd(fd: number, protocol: Protocol, opts: NetlinkFdOptions = {}): NetlinkSocket {
  try {
    const port = netlinkPortOf(fd, protocol)
    if (port === null) throw new InternalError(`fd ${fd} is not a bound netlink socket of protocol ${protocol}`)
    netlinkQuietOverruns(fd)
    return new NetlinkSocket(new NetlinkFd(fd, port, opts) as unknown as RawNetlinkSocket)
  } catch (err) {
    closeQuietly(fd)
    throw err
  }
}

/** A new `netlink` package socket of `protocol` in the calling thread's namespace (see {@link netlinkOverFd}). */
export function openNetlink(protocol: Protocol, opts: NetlinkFdOptions = {}): NetlinkSocket {
  return netlinkOverFd(openNetlinkFd(protocol), protocol, opts)
}

/** Sets the receive buffer of `sock` (made here) to `bytes`, past net.core.rmem_max for a root runtime (../sys/sockets growReceiveBuffer). */
export function growNetlinkReceiveBuffer(sock: NetlinkSocket, bytes: number): void {
  if (!(sock.socket instanceof NetlinkFd)) throw new InternalError('growNetlinkReceiveBuffer: a socket not made by netlink-fd')
  growReceiveBuffer(sock.socket.fd, bytes)
}
