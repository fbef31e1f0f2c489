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
 * @module
 */
import { EventEmitter } from 'node:events'
import './pin-netlink-addon' // before the package: see there
import { NetlinkSocket, type Protocol, type RawNetlinkSocket } from 'netlink'
import { InternalError, SyscallError } from '../errors'
import { closeQuietly } from '../sys/libc'
import { growReceiveBuffer, netlinkPortOf, netlinkQuietOverruns, openNetlinkFd, receiveBufferSize, receiveNetlink, sendNetlink, type NetlinkDatagram } from '../sys/sockets'

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

/** The RawNetlinkSocket interface the package's NetlinkSocket uses, over a netlink socket fd. */
export class NetlinkFd extends EventEmitter {
  private open = true
  private lateLook: NodeJS.Timeout | undefined

  /** @param fd - a bound netlink socket (owned from now on); @param port - its netlink port. */
  constructor(
    readonly fd: number,
    private readonly port: number,
  ) {
    super()
  }

  /** Sends `data` and reads what it was answered; `callback` (or an 'error' event) and the answers ('message') come on a microtask. */
  send(data: Buffer | Buffer[], target: SendTarget | undefined, callback?: (error?: Error) => void): void {
    if (!this.open) throw new Error('Netlink socket is closed')
    let error: Error | undefined
    try {
      sendNetlink(this.fd, Array.isArray(data) ? Buffer.concat(data) : data, target?.port ?? 0, target?.groups ?? 0)
    } catch (err) {
      error = asErrnoException(err)
    }
    const answers = error ? [] : this.readQueued()
    queueMicrotask(() => {
      if (callback) callback(error)
      else if (error) this.emit('error', error)
      this.deliver(answers)
      if (!error && !answers.length) this.lookLater(0)
    })
  }

  /** Every datagram queued on the socket (a dump's next part is made as the previous one is read). */
  private readQueued(): NetlinkDatagram[] {
    const read: NetlinkDatagram[] = []
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
    closeQuietly(this.fd)
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
export function netlinkOverFd(fd: number, protocol: Protocol): NetlinkSocket {
  try {
    const port = netlinkPortOf(fd, protocol)
    if (port === null) throw new InternalError(`fd ${fd} is not a bound netlink socket of protocol ${protocol}`)
    netlinkQuietOverruns(fd)
    return new NetlinkSocket(new NetlinkFd(fd, port) as unknown as RawNetlinkSocket)
  } catch (err) {
    closeQuietly(fd)
    throw err
  }
}

/** A new `netlink` package socket of `protocol` in the calling thread's namespace (see {@link netlinkOverFd}). */
export function openNetlink(protocol: Protocol): NetlinkSocket {
  return netlinkOverFd(openNetlinkFd(protocol), protocol)
}

/** Sets the receive buffer of `sock` (made here) to `bytes`, past net.core.rmem_max for a root runtime (../sys/sockets growReceiveBuffer). */
export function growNetlinkReceiveBuffer(sock: NetlinkSocket, bytes: number): void {
  if (!(sock.socket instanceof NetlinkFd)) throw new InternalError('growNetlinkReceiveBuffer: a socket not made by netlink-fd')
  growReceiveBuffer(sock.socket.fd, bytes)
}
