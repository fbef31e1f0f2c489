/**
 * The bottom layers against the real kernel: rtnetlink links/addresses/
 * routes (with the veth peer born inside a namespace) and the nf_tables
 * batches, observed with `ip` and `nft`, on a subnet claimed per run
 * (test/net-helpers.ts).
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { macForIp, parseCidr } from '../../lib/network/ipam'
import { ownerMark } from '../../lib/network/names'
import { Firewall } from '../../lib/network/nftables'
import { NfNetlink, NftMsg } from '../../lib/network/nfnetlink'
import { strAttr } from '../../lib/network/nlattr'
import { LOOPBACK_IFINDEX, Rtnl } from '../../lib/network/rtnl'
import * as fs from 'node:fs'
import { createNetns, createNetnsIpv6Off, netnsInode, withNetns, openCurrentNetns } from '../../lib/sys/netns'
import { closeQuietly } from '../../lib/sys/libc'
import { ipPattern, macOf, useSubnets } from '../net-helpers'
import { hostLinks, nftTables, TestNetns } from './helpers'

const tag = randomBytes(3).toString('hex')
const bridge = `mct${tag}b`
const veth = `mct${tag}v`
const table = `minicontainer_t${tag}`
/**
 * The table's and bridge's owner mark names a "root" that exists exactly while this process lives: a run
 * that dies before its afterAll (an abort in the netlink package's native code, a killed worker) left
 * them on the host for good (tables of 84 rules: the racing test's network and 40 ports), while now the
 * next runtime start anywhere collects them as abandoned (lib/network/abandoned.ts).
 */
const mark = ownerMark(`/proc/${process.pid}`)
const [subnet] = useSubnets(1)

describe('netns, rtnetlink and nf_tables', () => {
  const host = Rtnl.current()
  let ns: TestNetns
  let fw: Firewall

  beforeAll(() => {
    ns = new TestNetns()
    fw = new Firewall(table, `mct${tag}`, mark)
  })

  afterAll(async () => {
    await host.deleteLink(veth).catch(() => undefined)
    await host.deleteLink(bridge).catch(() => undefined)
    await fw.deleteTable().catch(() => undefined)
    fw.close()
    host.close()
    ns.close()
    expect(hostLinks(`mct${tag}`)).toEqual([])
  })

  test('createNetns gives a new namespace and leaves the thread where it was', () => {
    const before = openCurrentNetns()
    const fresh = createNetns()
    try {
      expect(netnsInode(fresh)).not.toBe(netnsInode(before))
      const after = openCurrentNetns()
      expect(netnsInode(after)).toBe(netnsInode(before))
      closeQuietly(after)
      expect(withNetns(fresh, () => netnsInode(openCurrentNetns()))).toBe(netnsInode(fresh))
      expect(() => withNetns(fresh, () => Promise.resolve(1))).toThrow(/synchronous/)
      expect(netnsInode(openCurrentNetns())).toBe(netnsInode(before))
    } finally {
      closeQuietly(fresh)
      closeQuietly(before)
    }
  })

  test('createNetnsIpv6Off gives new namespaces, each with only lo, and leaves every thread of the process where it was (libuv workers too)', async () => {
    const home = netnsInode(openCurrentNetns())
    const threadNetns = () => new Set(fs.readdirSync('/proc/self/task').map((tid) => fs.statSync(`/proc/self/task/${tid}/ns/net`).ino))
    // More at once than libuv has workers: each worker makes several, one after the other.
    const fresh = await Promise.all(Array.from({ length: 12 }, () => createNetnsIpv6Off()))
    try {
      expect(new Set(fresh.map((ns) => netnsInode(ns.fd))).size).toBe(fresh.length)
      expect(fresh.map((ns) => netnsInode(ns.fd))).not.toContain(home)
      expect(execFileSync('nsenter', [`--net=/proc/${process.pid}/fd/${fresh[0].fd}`, 'ip', '-o', 'link', 'show']).toString()).toMatch(/^1: lo: [^\n]*\n$/)
      expect([...threadNetns()]).toEqual([home])
    } finally {
      for (const ns of fresh) {
        ns.ipv6Default.dispose()
        closeQuietly(ns.fd)
      }
    }
  })

  test("createNetnsIpv6Off: a veth end made in the namespace is born without IPv6, lo keeps it, and restore() gives the namespace a fresh one's default", async () => {
    expect(fs.existsSync('/proc/sys/net/ipv6/conf/default/disable_ipv6')).toBe(true) // the kernel this runs on has IPv6
    const made = await createNetnsIpv6Off()
    const plain = createNetns()
    const ipv6Off = (fd: number, dev: string) => execFileSync('nsenter', [`--net=/proc/${process.pid}/fd/${fd}`, 'cat', `/proc/sys/net/ipv6/conf/${dev}/disable_ipv6`]).toString().trim()
    const hostEnd = `mct${tag}w`
    try {
      expect(ipv6Off(made.fd, 'default')).toBe('1')
      execFileSync('ip', ['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', `/proc/${process.pid}/fd/${made.fd}`])
      expect(ipv6Off(made.fd, 'eth0')).toBe('1')
      expect(ipv6Off(made.fd, 'lo')).toBe(ipv6Off(plain, 'lo'))
      made.ipv6Default.restore()
      made.ipv6Default.restore() // once: the second does nothing
      expect(ipv6Off(made.fd, 'default')).toBe(ipv6Off(plain, 'default'))
      expect(ipv6Off(made.fd, 'eth0')).toBe('1')
    } finally {
      made.ipv6Default.dispose()
      // Gone with its namespace too; deleted here so that nothing waits for the kernel's cleanup.
      if (fs.existsSync(`/sys/class/net/${hostEnd}`)) execFileSync('ip', ['link', 'del', hostEnd])
      closeQuietly(made.fd)
      closeQuietly(plain)
    }
  })

  test('bridge + veth with the peer created inside the namespace as eth0', async () => {
    const br = await host.createBridge(bridge, mark)
    await host.addAddress(br, subnet.host(1), 24)
    await host.up(br)
    await host.createVeth(veth, br, { name: 'eth0', netnsFd: ns.fd, mac: macForIp(subnet.host(2)) })
    // The host end is born down (up once eth0 is), and the peer never exists on the host.
    const hostEnd = await host.link(veth)
    expect(hostEnd?.up).toBe(false)
    expect((await host.link('eth0'))?.mac).not.toBe(macOf(subnet.host(2))) // the host's own eth0, if any, is not ours
    const inner = Rtnl.inNetns(ns.fd)
    try {
      await inner.up(LOOPBACK_IFINDEX)
      const eth0 = await inner.upByName('eth0')
      // The host end names its peer's index inside.
      expect(hostEnd?.linkIndex).toBe(eth0)
      await inner.addAddress(eth0, subnet.host(2), 24)
      await inner.addDefaultRoute(eth0, subnet.host(1))
    } finally {
      inner.close()
    }
    await host.upBridgePort(hostEnd!.index, { hairpin: true })
    expect((await host.link(veth))?.up).toBe(true)
    expect(fs.readFileSync(`/sys/class/net/${veth}/brport/hairpin_mode`, 'utf8').trim()).toBe('1')
    expect(ns.run(['ip', '-o', '-4', 'addr', 'show', 'eth0'])).toContain(`${subnet.host(2)}/24`)
    expect(ns.run(['ip', 'route'])).toContain(`default via ${subnet.host(1)} dev eth0`)
    expect(ns.run(['ip', 'link', 'show', 'eth0'])).toContain(macOf(subnet.host(2)))
    expect(execFileSync('ip', ['-o', 'link', 'show', veth]).toString()).toContain(`master ${bridge}`)
    expect(ns.ping(subnet.host(1))).toBe(true)
    expect(ns.ping('127.0.0.1')).toBe(true)
    expect((await host.routedCidrs()).some((c) => c.network === parseCidr(subnet.cidr).network && c.prefix === 24)).toBe(true)
  })

  test('creating an existing link fails with the kernel errno; deleting a missing one is a no-op', async () => {
    await expect(host.createBridge(bridge)).rejects.toMatchObject({ errno: 'EEXIST' })
    expect(await host.deleteLink(`mct${tag}zz`)).toBe(false)
  })

  /** Runs `race` on one rtnetlink socket of a fresh namespace holding `count` bridges (race0, race1...). */
  async function withBridges(count: number, race: (rtnl: Rtnl, names: string[]) => Promise<void>): Promise<void> {
    const crowded = new TestNetns()
    const rtnl = Rtnl.inNetns(crowded.fd)
    try {
      const names = Array.from({ length: count }, (_, i) => `race${i}`)
      for (const name of names) await rtnl.createBridge(name)
      await race(rtnl, names)
      expect((await rtnl.links()).map((l) => l.name)).toEqual(['lo'])
    } finally {
      rtnl.close()
      crowded.close()
    }
  }

  test('one rtnetlink socket serves links dumps and deletions racing each other', async () => {
    // A dump answers in several messages: a deletion's ack landing between them broke it ("Multipart
    // message not terminated properly"), and a second dump at once failed EBUSY.
    await withBridges(20, async (rtnl, names) => {
      const dumps = Array.from({ length: 5 }, () => rtnl.links())
      const deletions = names.map((name) => rtnl.deleteLink(name))
      expect(await Promise.all(deletions)).toEqual(names.map(() => true))
      for (const links of await Promise.all(dumps)) expect(links.find((l) => l.index === LOOPBACK_IFINDEX)?.name).toBe('lo')
    })
  })

  test('a hundred requests at once on one rtnetlink socket all get their answer', async () => {
    // Unbounded, their replies overflowed the receive buffer: ENOBUFS on the socket aborted the process.
    await withBridges(120, async (rtnl, names) => {
      expect(await Promise.all(names.map((name) => rtnl.deleteLink(name)))).toEqual(names.map(() => true))
    })
  })

  test('nf_tables: table, chains and owner-tagged rules, removed by owner', async () => {
    await fw.addNetwork({ id: 'n1', bridge, subnet: parseCidr(subnet.cidr), internal: false })
    await fw.addPorts('c1', [{ proto: 'tcp', hostIp: '', hostPort: 40999, containerIp: subnet.host(2), containerPort: 80 }])
    const listing = execFileSync('nft', ['list', 'table', 'ip', table]).toString()
    expect(listing).toContain('type nat hook prerouting priority dstnat')
    expect(listing).toContain(`ip saddr ${subnet.cidr} oifname != "${bridge}"`)
    expect(listing).toContain('masquerade comment "net:n1"')
    expect(listing).toMatch(new RegExp(`fib daddr type local tcp dport 40999 counter packets \\d+ bytes \\d+ dnat to ${ipPattern(subnet.host(2))}:80 comment "ctr:c1"`))
    expect(await fw.owners()).toEqual(new Set(['net:n1', 'ctr:c1']))
    expect(await fw.removeContainer('c1')).toBe(2)
    expect(execFileSync('nft', ['list', 'table', 'ip', table]).toString()).not.toContain('40999')
    expect(await fw.removeNetwork('n1')).toBeGreaterThan(0)
    expect(await fw.deleteTable()).toBe(true)
    expect(nftTables()).not.toContain(`table ip ${table}`)
    expect(await fw.deleteTable()).toBe(false)
    expect(await fw.rules()).toEqual([])
  })

  test('one nf_tables socket serves rule dumps and batches racing each other', async () => {
    // A dump answers in several messages: a batch's acks landing among them ended it early, and the dump
    // then waited for its end until the 5 s timeout ("nf_tables dump failed: Timeout has been reached").
    await fw.addNetwork({ id: 'n2', bridge, subnet: parseCidr(subnet.cidr), internal: false })
    try {
      const ports = Array.from({ length: 40 }, (_, i) => ({ proto: 'tcp' as const, hostIp: '', hostPort: 41000 + i, containerIp: subnet.host(2), containerPort: 80 }))
      const adds = ports.map((p, i) => fw.addPorts(`r${i}`, [p]))
      const dumps = Array.from({ length: 10 }, () => fw.rules())
      await Promise.all(adds)
      for (const rules of await Promise.all(dumps)) expect(rules.some((r) => r.owner === 'net:n2')).toBe(true)
      const removals = ports.map((_, i) => fw.removeContainer(`r${i}`))
      expect(await Promise.all(removals)).toEqual(ports.map(() => 2))
    } finally {
      await fw.removeNetwork('n2')
      await fw.deleteTable()
    }
  })

  test('a rejected batch changes nothing', async () => {
    // A rule in a chain that does not exist fails the whole batch, including the table creation before it.
    const nl = new NfNetlink()
    try {
      const newTable = { msg: NftMsg.NEWTABLE, flags: 0x400, attrs: [strAttr(1, `${table}x`)] }
      const badRule = { msg: NftMsg.NEWRULE, flags: 0x400, attrs: [strAttr(1, `${table}x`), strAttr(2, 'nope')] }
      await expect(nl.batch('test', [newTable, badRule])).rejects.toMatchObject({ code: 'ESYSCALL', errno: 'ENOENT' })
      expect(nftTables()).not.toContain(`table ip ${table}x`)
      await nl.batch('test', [newTable])
      expect(nftTables()).toContain(`table ip ${table}x`)
      await nl.batch('test', [{ msg: NftMsg.DELTABLE, attrs: [strAttr(1, `${table}x`)] }])
    } finally {
      nl.close()
    }
  })
})
