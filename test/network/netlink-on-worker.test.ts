/**
 * rtnetlink sockets that send on a libuv worker (../../lib/network/netlink-fd.ts `onWorker`, used for
 * warm endpoints, off any start's path): requests made together go as one datagram, and each is
 * still answered as if sent alone, in call order (one that fails fails alone); none is sent on the
 * event loop's thread; a socket closed with requests queued refuses them and closes its fd only
 * once no worker uses it. Observed with the kernel's own view of a fresh namespace (ip, through
 * nsenter), not the library's.
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import { LOOPBACK_IFINDEX, Rtnl } from '../../lib/network/rtnl'
import { closeQuietly } from '../../lib/sys/libc'
import { createNetns } from '../../lib/sys/netns'
import * as sockets from '../../lib/sys/sockets'

const NETLINK_ROUTE = 0

/** This process's rtnetlink socket fds. */
function routeSockets(): Set<number> {
  return new Set(fs.readdirSync('/proc/self/fd').map(Number).filter((fd) => sockets.netlinkPortOf(fd, NETLINK_ROUTE) !== null))
}

/** `ip args` inside the namespace held by this process's fd `netnsFd`. */
function ipIn(netnsFd: number, args: string[]): string {
  return execFileSync('nsenter', [`--net=/proc/${process.pid}/fd/${netnsFd}`, 'ip', ...args], { encoding: 'utf8' })
}

/** How many netlink messages a datagram holds (each read at its 4-byte-aligned length). */
function messagesIn(datagram: Buffer): number {
  let n = 0
  for (let at = 0; at + 16 <= datagram.length; at += (datagram.readUInt32LE(at) + 3) & ~3) n++
  return n
}

afterEach(() => jest.restoreAllMocks())

test('requests made together on a worker socket go as one datagram, none on the event loop thread, and each is answered alone: the one that fails fails alone, the others are applied in call order', async () => {
  const netnsFd = createNetns()
  const onWorker = jest.spyOn(sockets, 'sendNetlinkOnWorker')
  const onThisThread = jest.spyOn(sockets, 'sendNetlink')
  const rtnl = Rtnl.inNetns(netnsFd, { onWorker: true })
  try {
    const outcomes = await Promise.allSettled([
      rtnl.up(LOOPBACK_IFINDEX),
      rtnl.addAddress(4242, '10.251.0.1', 24), // no such link
      rtnl.addAddress(LOOPBACK_IFINDEX, '10.251.0.1', 8),
      // Needs the address before it (its prefix route holds the gateway).
      rtnl.addDefaultRoute(LOOPBACK_IFINDEX, '10.251.0.2'),
    ])
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled'])
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ errno: 'ENODEV', message: expect.stringContaining('add address 10.251.0.1') })
    expect(onThisThread).not.toHaveBeenCalled()
    expect(onWorker.mock.calls.map(([, datagram]) => messagesIn(datagram))).toEqual([4])
    expect(ipIn(netnsFd, ['-o', 'link', 'show', 'lo'])).toMatch(/<[^>]*\bUP\b[^>]*>/)
    expect(ipIn(netnsFd, ['-o', '-4', 'addr', 'show', 'dev', 'lo'])).toContain('inet 10.251.0.1/8')
    expect(ipIn(netnsFd, ['-4', 'route', 'show', 'default'])).toContain('default via 10.251.0.2 dev lo')
    // The next request, alone, is answered too.
    expect((await rtnl.link('lo'))?.index).toBe(LOOPBACK_IFINDEX)
  } finally {
    rtnl.close()
    closeQuietly(netnsFd)
  }
})

test('a worker socket closed with a request queued refuses it unsent and closes its fd once no worker uses it', async () => {
  const netnsFd = createNetns()
  const before = routeSockets()
  const rtnl = Rtnl.inNetns(netnsFd, { onWorker: true })
  try {
    const [fd, ...others] = [...routeSockets()].filter((s) => !before.has(s))
    expect(others).toEqual([])
    const up = rtnl.up(LOOPBACK_IFINDEX).then(
      () => 'applied',
      (err: Error) => err.message,
    )
    // Still open while the request waits for its send.
    expect(sockets.netlinkPortOf(fd, NETLINK_ROUTE)).not.toBeNull()
    rtnl.close()
    expect(await up).toMatch(/closed/)
    expect(ipIn(netnsFd, ['-o', 'link', 'show', 'lo'])).not.toMatch(/<[^>]*\bUP\b[^>]*>/)
    expect(routeSockets().has(fd)).toBe(false)
  } finally {
    rtnl.close()
    closeQuietly(netnsFd)
  }
})
