/**
 * rtnetlink answers the kernel drops: the waiting request ends with an
 * error naming it instead of holding the socket's turns forever, the
 * callers queued behind it are refused at once, and the host's socket is
 * replaced. The loss is real: the socket's receive buffer is shrunk to the
 * kernel's minimum by a python3 peer on the same socket, with overruns
 * unreported (NETLINK_NO_ENOBUFS), and filled by another peer's datagram sent
 * to its port, so the kernel drops the answer to the next request (answers
 * are read as soon as a request is sent: ../../lib/network/netlink-fd.ts).
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import { LOOPBACK_IFINDEX, Rtnl, RTNL_REPLY_TIMEOUT_MS } from '../../lib/network/rtnl'
import { netlinkPortOf } from '../../lib/sys/sockets'

const NETLINK_ROUTE = 0
const SOL_NETLINK = 270
const NETLINK_NO_ENOBUFS = 5

/** This process's rtnetlink socket fds. */
function routeSockets(): Set<number> {
  return new Set(fs.readdirSync('/proc/self/fd').map(Number).filter((fd) => netlinkPortOf(fd, NETLINK_ROUTE) !== null))
}

/** Makes socket `fd` drop, silently, what does not fit a minimal receive buffer (SO_RCVBUF 0, NETLINK_NO_ENOBUFS). */
function makeLossy(fd: number): void {
  const script = `import socket\ns = socket.socket(fileno=3)\ns.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 0)\ns.setsockopt(${SOL_NETLINK}, ${NETLINK_NO_ENOBUFS}, 1)\ns.detach()\n`
  execFileSync('python3', ['-c', script], { stdio: ['ignore', 'inherit', 'inherit', fd] })
}

/** Queues on the netlink socket of port `port` a datagram (a NOOP message) bigger than a minimal receive buffer: the kernel's next answer to it finds the buffer full. */
function fillQueue(port: number): void {
  const script = `import socket, struct\ns = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, ${NETLINK_ROUTE})\ns.sendto(struct.pack('=IHHII', 8192, 1, 0, 0, 0) + bytes(8192 - 16), (${port}, 0))\n`
  execFileSync('python3', ['-c', script], { stdio: ['ignore', 'inherit', 'inherit'] })
}

test(`a dropped rtnetlink answer fails its request within ${RTNL_REPLY_TIMEOUT_MS / 1000} s naming it, refuses the callers queued behind, and the host socket is replaced`, async () => {
  const before = routeSockets()
  const rtnl = Rtnl.current()
  try {
    const [fd, ...others] = [...routeSockets()].filter((s) => !before.has(s))
    expect(others).toEqual([])
    makeLossy(fd)
    fillQueue(netlinkPortOf(fd, NETLINK_ROUTE)!)
    const t0 = Date.now()
    // The first answer is dropped (the buffer is full), the filler is read with it; the second is answered.
    const lookups = [rtnl.link('lo'), rtnl.link('lo')].map((p) => p.then((l) => l?.index, (err: unknown) => err))
    // A dump waits for both (it takes the socket alone): without a bound it waited forever.
    const dump = rtnl.links().then(() => 'listed', (err: unknown) => err)
    const [first, second] = await Promise.all(lookups)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(RTNL_REPLY_TIMEOUT_MS - 100)
    expect(second).toBe(LOOPBACK_IFINDEX)
    expect(first).toMatchObject({ code: 'ESYSCALL', errno: 'ETIMEDOUT', message: expect.stringMatching(/^rtnetlink find link lo failed: ETIMEDOUT \(no answer from the kernel/) })
    expect(await dump).toMatchObject({ errno: 'ETIMEDOUT', message: expect.stringMatching(/^rtnetlink list links failed: ETIMEDOUT \(not sent: its socket stopped answering \(find link lo got no answer\)/) })
    // The next call opens a new socket (of the default size) and is answered.
    expect((await rtnl.link('lo'))?.index).toBe(LOOPBACK_IFINDEX)
    expect((await rtnl.links()).some((l) => l.name === 'lo')).toBe(true)
  } finally {
    rtnl.close()
  }
  expect([...routeSockets()].filter((s) => !before.has(s))).toEqual([])
}, 60_000)

/** Blocks the event loop for `ms` (a loaded machine's late loop, on purpose). */
function blockLoop(ms: number): void {
  const end = Date.now() + ms
  while (Date.now() < end);
}

test('a request sent just before the socket is spent gets its answer: the spent socket is closed once its turns have drained, not when the next caller replaces it', async () => {
  const before = routeSockets()
  const rtnl = Rtnl.current()
  try {
    const [fd] = [...routeSockets()].filter((s) => !before.has(s))
    makeLossy(fd)
    fillQueue(netlinkPortOf(fd, NETLINK_ROUTE)!)
    // The first answer is dropped (the buffer is full), and its bound spends the socket; the second is answered.
    const lookups = [rtnl.link('lo'), rtnl.link('lo')].map((p) => p.then((l) => l?.index, (err: unknown) => err))
    // The loop is blocked past the bound, so that these timers and the bound's run in one timers phase, in
    // due order: the in-flight request is sent (its answer queued, unread) just before the spend, and a
    // new caller replaces the socket just after it, before the next poll reads that answer.
    let inFlight: Promise<unknown> | undefined
    let replacing: Promise<unknown> | undefined
    setTimeout(() => blockLoop(500), RTNL_REPLY_TIMEOUT_MS - 250)
    setTimeout(() => setImmediate(() => (inFlight = rtnl.link('lo').then((l) => l?.index, (err: unknown) => err))), RTNL_REPLY_TIMEOUT_MS - 150)
    setTimeout(() => setImmediate(() => (replacing = rtnl.link('lo').then((l) => l?.index, (err: unknown) => err))), RTNL_REPLY_TIMEOUT_MS + 150)
    const [first, second] = await Promise.all(lookups)
    expect(second).toBe(LOOPBACK_IFINDEX)
    expect(first).toMatchObject({ errno: 'ETIMEDOUT' })
    await new Promise((r) => setTimeout(r, 400))
    expect(await replacing).toBe(LOOPBACK_IFINDEX)
    expect(await inFlight).toBe(LOOPBACK_IFINDEX)
  } finally {
    rtnl.close()
  }
  expect([...routeSockets()].filter((s) => !before.has(s))).toEqual([])
}, 60_000)
