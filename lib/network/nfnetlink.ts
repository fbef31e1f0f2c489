/**
 * A NETLINK_NETFILTER socket speaking nf_tables: atomic batches
 * (NFNL_MSG_BATCH_BEGIN ... END) and dumps.
 *
 * A batch is sent as one datagram and applied by the kernel all-or-nothing.
 * Every command carries NLM_F_ACK, so the kernel answers each one (0 or an
 * error) once the whole batch is done; we wait for all answers.
 *
 * @module
 */
import './pin-netlink-addon' // before the package: see there
import { Flags, FlagsGet, MessageType, Protocol, type NetlinkSocket } from 'netlink'
import { errnoName } from '../sys/libc'
import { growNetlinkReceiveBuffer, netlinkOverFd, openNetlink } from './netlink-fd'
import { NftablesError } from './errors'
import { parseAttrs } from './nlattr'
import { debug } from '../util/debug'
import { NetlinkTurns } from './netlink-turns'

const NFNL_SUBSYS_NFTABLES = 10
const NFNL_MSG_BATCH_BEGIN = 0x10
const NFNL_MSG_BATCH_END = 0x11
const NLMSG_HDRLEN = 16
/** How long to wait for the kernel's answers before giving up (it answers in microseconds). */
const REPLY_TIMEOUT_MS = 5000
/** Receive-buffer room one ack of a batch's command takes (its skb's truesize, about 768 bytes, rounded up). */
const ACK_ROOM = 1024

/** Address families of nf_tables (NFPROTO_*). */
export const NFPROTO_IPV4 = 2
/** The `inet` family (IPv4 and IPv6 in one table). */
export const NFPROTO_INET = 1
/** Every family (dumps only). */
export const NFPROTO_UNSPEC = 0

/** One dumped nf_tables object: its family and attributes. */
export interface NftObject {
  family: number
  attrs: Map<number, Buffer>
}

/** nf_tables message types (enum nf_tables_msg_types). */
export const NftMsg = {
  NEWTABLE: 0,
  GETTABLE: 1,
  DELTABLE: 2,
  NEWCHAIN: 3,
  GETCHAIN: 4,
  DELCHAIN: 5,
  NEWRULE: 6,
  GETRULE: 7,
  DELRULE: 8,
} as const

/** One command of a batch. */
export interface NftCommand {
  msg: number
  /** NLM_F_CREATE / EXCL / APPEND... (REQUEST and ACK are added). */
  flags?: number
  attrs: Buffer[]
}

function header(len: number, type: number, flags: number, seq: number): Buffer {
  const h = Buffer.alloc(NLMSG_HDRLEN)
  h.writeUInt32LE(len, 0)
  h.writeUInt16LE(type, 4)
  h.writeUInt16LE(flags, 6)
  h.writeUInt32LE(seq, 8)
  return h
}

/** struct nfgenmsg: family, version 0, resource id (big-endian). */
function nfgenmsg(family: number, resId = 0): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt8(family, 0)
  b.writeUInt16BE(resId, 2)
  return b
}

function message(type: number, flags: number, seq: number, body: Buffer): Buffer {
  return Buffer.concat([header(NLMSG_HDRLEN + body.length, type, flags, seq), body])
}

/** Sequence numbers of a batch's messages: its BEGIN, each command (the kernel answers each), its END. */
export interface BatchSeqs {
  begin: number
  commands: number[]
  end: number
}

/**
 * The datagram of one atomic batch: NFNL_MSG_BATCH_BEGIN (res_id naming the
 * nf_tables subsystem), the commands with REQUEST and ACK added to their
 * flags, then NFNL_MSG_BATCH_END.
 */
export function batchDatagram(commands: NftCommand[], family: number, seqs: BatchSeqs): Buffer {
  const parts = [message(NFNL_MSG_BATCH_BEGIN, Flags.REQUEST, seqs.begin, nfgenmsg(0, NFNL_SUBSYS_NFTABLES))]
  commands.forEach((c, i) => {
    const type = (NFNL_SUBSYS_NFTABLES << 8) | c.msg
    parts.push(message(type, Flags.REQUEST | Flags.ACK | (c.flags ?? 0), seqs.commands[i], Buffer.concat([nfgenmsg(family), ...c.attrs])))
  })
  parts.push(message(NFNL_MSG_BATCH_END, Flags.REQUEST, seqs.end, nfgenmsg(0, NFNL_SUBSYS_NFTABLES)))
  return Buffer.concat(parts)
}

/** An nf_tables netlink socket in the namespace it was created in. */
export class NfNetlink {
  private readonly waiters = new Map<number, (errno: number) => void>()
  /** How each batch awaiting its answers fails when the socket reports an error (its answers may be lost). */
  private readonly onSocketError = new Set<(err: Error) => void>()
  /** One batch or dump at a time on the socket: a batch's acks landing among a dump's messages end that dump early (./netlink-turns). */
  private readonly turns = new NetlinkTurns()

  /** @param sock - a NETLINK_NETFILTER socket (default: a new one in the calling thread's namespace). */
  constructor(private readonly sock: NetlinkSocket = openNetlink(Protocol.NETFILTER)) {
    this.sock.on('message', (msgs) => {
      for (const m of msgs) if (m.type === MessageType.ERROR) this.waiters.get(m.seq)?.(-m.data.readInt32LE(0))
    })
    // Unheard, the socket's 'error' event (a send refused: EMSGSIZE for a batch over the send buffer) would end the process.
    this.sock.on('error', (err: Error) => {
      debug('nf_tables socket error: %s', err)
      for (const fail of this.onSocketError) fail(err)
    })
  }

  /** Over `fd`, a NETLINK_NETFILTER socket opened elsewhere (another namespace: ./netns-sockets); takes ownership of it. */
  static adopt(fd: number): NfNetlink {
    return new NfNetlink(netlinkOverFd(fd, Protocol.NETFILTER))
  }

  /** Closes the socket. */
  close(): void {
    this.sock.close()
  }

  /** Applies `commands` atomically; throws NftablesError with the first errno the kernel reported. */
  async batch(op: string, commands: NftCommand[], family = NFPROTO_IPV4): Promise<void> {
    if (commands.length === 0) return
    if (debug.enabled) debug('nf_tables batch %s: %d messages (%s)', op, commands.length, commands.map((c) => c.msg).join(','))
    const errnos = await this.turns.dump(`batch ${op}`, () => {
      const seqs = commands.map(() => this.sock.generateSeq())
      const datagram = batchDatagram(commands, family, { begin: this.sock.generateSeq(), commands: seqs, end: this.sock.generateSeq() })
      this.roomForAcks(commands.length)
      return this.awaitAnswers(op, seqs, () => this.sock.socket.send(datagram, { port: 0 }))
    })
    const failed = errnos.find((e) => e !== 0)
    if (failed !== undefined) throw new NftablesError(op, errnoName(failed))
  }

  /**
   * The kernel answers every command of a batch at once, while the batch is sent, and drops (ENOBUFS) what
   * overruns the receive buffer: about 280 acks fill the default 208 KB (a container publishing 140 ports).
   * The buffer is grown to hold them all: SO_RCVBUF alone stops at net.core.rmem_max, beyond which acks
   * are dropped unseen (NETLINK_NO_ENOBUFS) and an applied batch fails ETIMEDOUT; SO_RCVBUFFORCE, a root
   * runtime's, goes past it (getRecvBufferSize reads back twice what was set, the kernel's bookkeeping).
   */
  private roomForAcks(commands: number): void {
    const wanted = (commands + 2) * ACK_ROOM
    if (wanted > this.sock.socket.getRecvBufferSize()) growNetlinkReceiveBuffer(this.sock, wanted)
  }

  private awaitAnswers(op: string, seqs: number[], send: () => void): Promise<number[]> {
    const answers = new Map<number, number>()
    this.sock.ref(true)
    return new Promise<number[]>((resolve, reject) => {
      // Answers were dropped: whether the batch was applied is unknown (its acks, or its error, may be lost).
      const lost = (err: Error): void => {
        finish()
        reject(new NftablesError(op, (err as NodeJS.ErrnoException).code ?? err.message))
      }
      this.onSocketError.add(lost)
      const finish = (): void => {
        clearTimeout(timer)
        for (const s of seqs) this.waiters.delete(s)
        this.onSocketError.delete(lost)
        this.sock.ref(false)
      }
      const timer = setTimeout(() => {
        finish()
        reject(new NftablesError('batch', 'ETIMEDOUT'))
      }, REPLY_TIMEOUT_MS)
      for (const s of seqs)
        this.waiters.set(s, (errno) => {
          answers.set(s, errno)
          if (answers.size < seqs.length && errno === 0) return
          // On an error the batch was aborted; remaining answers (if any) add nothing.
          finish()
          resolve(seqs.map((q) => answers.get(q) ?? 0))
        })
      try {
        send()
      } catch (err) {
        finish()
        reject(err)
      }
    })
  }

  /** Dumps objects (GETTABLE, GETRULE...) filtered by `attrs`; returns each object's attributes. */
  async dump(msg: number, attrs: Buffer[], family = NFPROTO_IPV4): Promise<Map<number, Buffer>[]> {
    return (await this.dumpObjects(msg, attrs, family)).map((o) => o.attrs)
  }

  /** Like {@link dump}, with each object's family (for dumps across families with NFPROTO_UNSPEC). */
  async dumpObjects(msg: number, attrs: Buffer[], family = NFPROTO_IPV4): Promise<NftObject[]> {
    const type = (NFNL_SUBSYS_NFTABLES << 8) | msg
    let reply
    try {
      ;[reply] = await this.turns.dump('dump', () => this.sock.request(type, Buffer.concat([nfgenmsg(family), ...attrs]), { flags: FlagsGet.DUMP, timeout: REPLY_TIMEOUT_MS }))
    } catch (err) {
      const m = /Request rejected: (\w+)/.exec(String((err as Error).message))
      throw new NftablesError('dump', m ? m[1] : String((err as Error).message))
    }
    // Each GET's answers are the matching NEW message type (GETRULE 7 -> NEWRULE 6).
    return reply.filter((m) => m.type === type - 1).map((m) => ({ family: m.data.readUInt8(0), attrs: parseAttrs(m.data.subarray(4)) }))
  }
}
