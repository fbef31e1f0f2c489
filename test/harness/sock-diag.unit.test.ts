// The sock_diag wire format of forListeningPorts' probe (lib/harness/sock-diag.ts), with datagrams
// built here as the kernel lays them out; the real kernel's answers are tested in namespace-listeners.test.ts.
import { listenDumpRequest, readListenAnswers } from '../../lib/harness/sock-diag'

/** One netlink message: header (length, type, flags, seq, port) then `payload`, padded to 4 bytes. */
function message(type: number, seq: number, payload: Buffer): Buffer {
  const m = Buffer.alloc((16 + payload.length + 3) & ~3)
  m.writeUInt32LE(16 + payload.length, 0)
  m.writeUInt16LE(type, 4)
  m.writeUInt32LE(seq, 8)
  payload.copy(m, 16)
  return m
}

/** An inet_diag_msg (72 bytes) for a socket with local port `port`. */
function socketAnswer(seq: number, port: number): Buffer {
  const p = Buffer.alloc(72)
  p.writeUInt8(2, 0) // AF_INET
  p.writeUInt8(10, 1) // TCP_LISTEN
  p.writeUInt16BE(port, 4)
  p.writeUInt16BE(0, 6)
  return message(20, seq, p)
}

const done = (seq: number) => message(3, seq, Buffer.alloc(4))
const error = (seq: number, errno: number) => {
  const p = Buffer.alloc(20)
  p.writeInt32LE(-errno, 0)
  return message(2, seq, p)
}

test('the request asks SOCK_DIAG_BY_FAMILY for a dump of TCP sockets in state LISTEN only, of one family', () => {
  const r = listenDumpRequest(10, 7)
  expect(r.length).toBe(72)
  expect(r.readUInt32LE(0)).toBe(72)
  expect(r.readUInt16LE(4)).toBe(20)
  expect(r.readUInt16LE(6)).toBe(0x301)
  expect(r.readUInt32LE(8)).toBe(7)
  expect([r[16], r[17]]).toEqual([10, 6])
  expect(r.readUInt32LE(20)).toBe(1 << 10)
})

test("answers give their local ports; another request's answers are skipped; the dump ends at its DONE", () => {
  const ports = new Set<number>()
  expect(readListenAnswers(Buffer.concat([socketAnswer(5, 6379), socketAnswer(4, 1111), socketAnswer(5, 80)]), 5, ports)).toBe(false)
  expect(readListenAnswers(Buffer.concat([done(4), socketAnswer(5, 8080), done(5)]), 5, ports)).toBe(true)
  expect(ports).toEqual(new Set([6379, 80, 8080]))
})

test('an error answer throws its errno as a SyscallError; a truncated message is EBADMSG', () => {
  expect(() => readListenAnswers(error(9, 2), 9, new Set())).toThrow(expect.objectContaining({ code: 'ESYSCALL', errno: 'ENOENT', syscall: 'sock_diag' }))
  expect(() => readListenAnswers(socketAnswer(9, 1).subarray(0, 40), 9, new Set())).toThrow(expect.objectContaining({ errno: 'EBADMSG' }))
})
