/**
 * Sockets beyond Node's net and dgram modules: a bound listener as a plain
 * fd (to give to a relay process), fds received over a unix socket
 * (SCM_RIGHTS, which Node's net module drops), and which netlink socket an
 * fd is.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import { callOnWorker, checkNegErrno, nativeFunctions } from './libc'

const native = nativeFunctions({
  bound: 'int mc_bound_socket(const char *ip, int port, int tcp, _Out_ int *bound_port)',
  recvFds: 'int mc_recv_fds(int sock, _Out_ uint8_t *buf, int buf_len, _Out_ int *fds, int max_fds, int timeout_ms)',
  netlinkPort: 'long long mc_netlink_port(int fd, int protocol)',
  netlinkQuietOverruns: 'int mc_netlink_quiet_overruns(int fd)',
  growReceiveBuffer: 'int mc_socket_grow_receive_buffer(int fd, int bytes)',
  sendFds: 'int mc_send_fds(int fd, const uint8_t *payload, size_t len, const int *fds, int n)',
  netlinkOpen: 'int mc_netlink_open(int protocol)',
  netlinkSend: 'int mc_netlink_send(int fd, const uint8_t *buf, size_t len, uint32_t port, uint32_t groups)',
  netlinkRecv: 'long mc_netlink_recv(int fd, _Out_ uint8_t *buf, size_t len, _Out_ uint32_t *port)',
  receiveBuffer: 'int mc_socket_receive_buffer(int fd)',
})

/** A socket bound by {@link boundSocket}. */
export interface BoundSocket {
  /** The close-on-exec fd (listening when TCP). */
  fd: number
  /** The port it got (the one asked for, or the kernel's pick for 0). */
  port: number
}

/**
 * A TCP listener or a bound UDP socket on `ip:port` (an IPv4 or IPv6
 * literal; port 0 for any). Throws a {@link SyscallError} "bind" with
 * EADDRINUSE, EACCES (a privileged port), EADDRNOTAVAIL...
 */
export function boundSocket(ip: string, port: number, proto: 'tcp' | 'udp'): BoundSocket {
  const bound = [0]
  const fd = checkNegErrno(native().bound(ip, port, proto === 'tcp' ? 1 : 0, bound), 'bind', `${ip}:${port}/${proto}`)
  return { fd, port: bound[0]! }
}

/** One message read by {@link receiveFds}. */
export interface ReceivedMessage {
  /** Its bytes, as text. */
  text: string
  /** The fds that came with it (close-on-exec; the caller owns them). */
  fds: number[]
}

/**
 * Reads one message and its SCM_RIGHTS fds from a unix socket, waiting up to `timeoutMs` for it
 * (blocking this thread in poll: for answers due within milliseconds); null when none came.
 */
export function receiveFds(sock: number, maxFds: number, timeoutMs = 0): ReceivedMessage | null {
  const buf = Buffer.alloc(256)
  const fds = new Array<number>(maxFds).fill(-1)
  const n = native().recvFds(sock, buf, buf.length, fds, maxFds, timeoutMs)
  if (n === -os.constants.errno.EAGAIN) return null
  checkNegErrno(n, 'recvmsg')
  return { text: buf.subarray(0, n).toString('utf8'), fds: fds.filter((fd) => fd >= 0) }
}

/**
 * Writes `data` to a unix stream socket with `fds` (one or two) attached to its first bytes (SCM_RIGHTS);
 * the rest, if the socket took part of it, written after. The fds stay open here.
 */
export function sendWithFds(sock: number, data: Buffer, fds: number[]): void {
  const sent = checkNegErrno(native().sendFds(sock, data, data.length, fds, fds.length), 'sendmsg')
  for (let off = sent; off < data.length; ) off += fs.writeSync(sock, data, off)
}

/** The port a netlink socket of `protocol` is bound to, or null when `fd` is not such a socket. */
export function netlinkPortOf(fd: number, protocol: number): number | null {
  const port = Number(native().netlinkPort(fd, protocol))
  return port < 0 ? null : port
}

/**
 * Makes a netlink socket drop answers that overrun its receive buffer without reporting ENOBUFS
 * (NETLINK_NO_ENOBUFS): a socket error would fail every request waiting on the socket, while a
 * dropped answer fails its own request only, by its caller's bound.
 */
export function netlinkQuietOverruns(fd: number): void {
  checkNegErrno(native().netlinkQuietOverruns(fd), 'setsockopt NETLINK_NO_ENOBUFS')
}

/**
 * Sets the receive buffer of the socket `fd` to `bytes`, past net.core.rmem_max when the process has
 * CAP_NET_ADMIN (SO_RCVBUFFORCE), within it otherwise (SO_RCVBUF).
 */
export function growReceiveBuffer(fd: number, bytes: number): void {
  checkNegErrno(native().growReceiveBuffer(fd, bytes), 'setsockopt SO_RCVBUFFORCE')
}

/** A new non-blocking, close-on-exec netlink socket of `protocol` in the calling thread's namespace, bound to a port the kernel picked. */
export function openNetlinkFd(protocol: number): number {
  return checkNegErrno(native().netlinkOpen(protocol), 'socket AF_NETLINK')
}

/** Sends `data` as one datagram on the netlink socket `fd` to `port` (0: the kernel); throws the send's SyscallError (EMSGSIZE...). */
export function sendNetlink(fd: number, data: Buffer, port: number, groups: number): void {
  checkNegErrno(native().netlinkSend(fd, data, data.length, port, groups), 'sendto')
}

/**
 * {@link sendNetlink} on a libuv worker: rtnetlink handles a request in the sender's context, under
 * the rtnl lock, which the kernel's cleanup of a dying namespace holds for milliseconds; the event
 * loop goes on meanwhile. Resolves once the request was handled (its answers are queued on `fd`).
 * The caller keeps `fd` open until it settles.
 */
export async function sendNetlinkOnWorker(fd: number, data: Buffer, port: number, groups: number): Promise<void> {
  await callOnWorker(native().netlinkSend, [fd, data, data.length, port, groups], 'sendto')
}

/** One datagram read by {@link receiveNetlink}: its bytes and its sender's port. */
export interface NetlinkDatagram {
  /** Its bytes (a copy). */
  data: Buffer
  /** The sender's netlink port (0: the kernel). */
  port: number
}

let receiveRoom = Buffer.alloc(64 * 1024)

/** The next datagram queued on the netlink socket `fd`, read without waiting; null when none is. */
export function receiveNetlink(fd: number): NetlinkDatagram | null {
  const port = [0]
  for (;;) {
    const n = Number(native().netlinkRecv(fd, receiveRoom, receiveRoom.length, port))
    if (n === -os.constants.errno.EAGAIN) return null
    checkNegErrno(n, 'recvfrom')
    if (n <= receiveRoom.length) return { data: Buffer.from(receiveRoom.subarray(0, n)), port: port[0]! }
    receiveRoom = Buffer.alloc(n) // left queued: read again with room for it
  }
}

/** The receive buffer size of the socket `fd` (SO_RCVBUF, as the kernel reports it: twice what was set). */
export function receiveBufferSize(fd: number): number {
  return checkNegErrno(native().receiveBuffer(fd), 'getsockopt SO_RCVBUF')
}
