/**
 * The listening TCP ports of a network namespace through NETLINK_SOCK_DIAG
 * (inet_diag), on a netlink socket opened inside that namespace. A dump
 * asking only for LISTEN sockets walks the kernel's listening hash alone:
 * tens of microseconds, where reading /proc/<pid>/net/tcp walks every
 * bucket of the established hash of the whole machine (milliseconds on a
 * host with a large one, on the event loop).
 *
 * @module
 */
import * as os from 'node:os'
import { SyscallError } from '../errors'
import { receiveNetlink, sendNetlink } from '../sys/sockets'

/** NETLINK_SOCK_DIAG. */
export const NETLINK_SOCK_DIAG = 4

const SOCK_DIAG_BY_FAMILY = 20
const NLMSG_ERROR = 2
const NLMSG_DONE = 3
const NLM_F_REQUEST = 0x1
const NLM_F_DUMP = 0x300
const NLMSG_HDRLEN = 16
const IPPROTO_TCP = 6
const TCP_LISTEN = 10
const AF_INET = 2
const AF_INET6 = 10
/** struct inet_diag_req_v2: family, protocol, ext, pad, states, then a 48-byte inet_diag_sockid. */
const REQ_LEN = 56
/** Where inet_diag_msg's id.idiag_sport (big-endian) sits in its payload (after family, state, timer, retrans). */
const MSG_SPORT = 4

let sequence = 0

/** A dump request of the LISTEN TCP sockets of `family`. */
export function listenDumpRequest(family: number, seq: number): Buffer {
  const msg = Buffer.alloc(NLMSG_HDRLEN + REQ_LEN)
  msg.writeUInt32LE(msg.length, 0)
  msg.writeUInt16LE(SOCK_DIAG_BY_FAMILY, 4)
  msg.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6)
  msg.writeUInt32LE(seq, 8)
  msg.writeUInt8(family, NLMSG_HDRLEN)
  msg.writeUInt8(IPPROTO_TCP, NLMSG_HDRLEN + 1)
  msg.writeUInt32LE(1 << TCP_LISTEN, NLMSG_HDRLEN + 4)
  return msg
}

/**
 * Adds to `into` the local ports of the inet_diag_msg answers to request
 * `seq` in `datagram`; true once that dump's NLMSG_DONE was read. An
 * NLMSG_ERROR throws its errno as a SyscallError "sock_diag".
 */
export function readListenAnswers(datagram: Buffer, seq: number, into: Set<number>): boolean {
  for (let at = 0; at + NLMSG_HDRLEN <= datagram.length; ) {
    const len = datagram.readUInt32LE(at)
    const type = datagram.readUInt16LE(at + 4)
    if (len < NLMSG_HDRLEN || at + len > datagram.length) throw new SyscallError('sock_diag', 'EBADMSG')
    if (datagram.readUInt32LE(at + 8) !== seq) {
      at += (len + 3) & ~3 // an answer to an earlier request
      continue
    }
    if (type === NLMSG_DONE) return true
    if (type === NLMSG_ERROR) {
      const errno = -datagram.readInt32LE(at + NLMSG_HDRLEN)
      if (errno !== 0) throw new SyscallError('sock_diag', errnoName(errno))
      return true
    }
    if (type === SOCK_DIAG_BY_FAMILY) into.add(datagram.readUInt16BE(at + NLMSG_HDRLEN + MSG_SPORT))
    at += (len + 3) & ~3
  }
  return false
}

function errnoName(errno: number): string {
  return Object.entries(os.constants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`
}

/** One dump of `family` on `fd`, read to its end: the kernel makes the first part while it is sent, the rest as each part is read. */
function dumpListening(fd: number, family: number, into: Set<number>): void {
  sequence = (sequence + 1) >>> 0
  sendNetlink(fd, listenDumpRequest(family, sequence), 0, 0)
  for (;;) {
    const d = receiveNetlink(fd)
    if (!d) throw new SyscallError('sock_diag', 'EAGAIN') // a dump that stopped without its end
    if (d.port === 0 && readListenAnswers(d.data, sequence, into)) return
  }
}

/** The TCP ports with a LISTEN socket (IPv4 or IPv6) in the namespace of the NETLINK_SOCK_DIAG socket `fd`. */
export function diagListeningPorts(fd: number): Set<number> {
  const ports = new Set<number>()
  dumpListening(fd, AF_INET, ports)
  dumpListening(fd, AF_INET6, ports)
  return ports
}
