/**
 * Netlink sockets passed from another network namespace (mc-shim
 * netns-sockets): the usual rtnetlink and nf_tables code drives a namespace
 * Node never enters, as root in namespaces made here, and as an ordinary
 * user in a user and network namespace of its own (unshare -Urn), where
 * setns from Node is refused.
 */
import { execFileSync } from 'node:child_process'
import { openNetnsNetlink } from '../../lib/network/netns-sockets'
import { Firewall } from '../../lib/network/nftables'
import { parseCidr } from '../../lib/network/ipam'
import { openNetns } from '../../lib/sys/netns'
import { closeQuietly } from '../../lib/sys/libc'
import { SyscallError } from '../../lib/errors'
import { useSubnets } from '../net-helpers'
import { makeUnprivilegedUser, type UnprivilegedUser } from '../tools/unprivileged-user'

const [subnet] = useSubnets(1)
const tag = `mcrl${process.pid % 100000}`
const nsA = `${tag}a`
const nsB = `${tag}b`
const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' })
const nftIn = (ns: string): string => execFileSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'tables'], { encoding: 'utf8' })

beforeAll(() => {
  ip('netns', 'add', nsA)
  ip('netns', 'add', nsB)
})
afterAll(() => {
  for (const ns of [nsA, nsB]) execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' })
})

describe('netlink sockets opened in another namespace', () => {
  it('build a bridge, a veth pair into a second namespace, addresses and an nf_tables table there, leaving the host as it was', async () => {
    expect(ip('-br', 'link')).not.toContain(tag)
    const a = await openNetnsNetlink(`/run/netns/${nsA}`)
    const b = await openNetnsNetlink(`/run/netns/${nsB}`)
    const nsBFd = openNetns(`/run/netns/${nsB}`)
    try {
      const bridge = await a.rtnl.createBridge(`${tag}br`)
      await a.rtnl.addAddress(bridge, subnet!.host(1), 24)
      await a.rtnl.up(bridge)
      await a.rtnl.createVeth(`${tag}v`, bridge, { name: 'eth0', netnsFd: nsBFd, mac: Buffer.from([2, 0x42, 0, 0, 0, 2]) })
      await a.rtnl.upByName(`${tag}v`)
      const eth0 = await b.rtnl.upByName('eth0')
      await b.rtnl.addAddress(eth0, subnet!.host(2), 24)
      await new Firewall(`${tag}t`, tag, '', a.nfnl).addNetwork({ id: 'n1', bridge: `${tag}br`, subnet: parseCidr(subnet!.cidr), internal: false })

      // Set up: its flags say UP (the operational state may still read UNKNOWN for a moment).
      expect(ip('-n', nsA, '-br', 'link')).toMatch(new RegExp(`^${tag}br\\s+\\S+\\s+\\S+\\s+<[^>]*\\bUP\\b`, 'm'))
      expect(ip('-n', nsA, '-br', 'link')).toMatch(new RegExp(`^${tag}v@`, 'm'))
      expect(ip('-n', nsA, '-br', 'addr')).toContain(`${subnet!.host(1)}/24`)
      expect(ip('-n', nsB, '-br', 'addr')).toMatch(new RegExp(`^eth0@\\S+\\s+UP\\s+${subnet!.host(2).replace(/\./g, '\\.')}/24`, 'm'))
      expect(nftIn(nsA)).toContain(`table ip ${tag}t`)
      // The two namespaces talk over what was built (traffic stays between namespaces made here).
      execFileSync('ip', ['netns', 'exec', nsB, 'ping', '-c1', '-W2', subnet!.host(1)])
      // The host namespace (Node's own) got none of it (other test files change its links meanwhile: look for this test's names).
      expect(ip('-br', 'link')).not.toContain(tag)
      expect(execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' })).not.toContain(tag)
      expect(nftIn(nsB)).not.toContain(`${tag}t`)
    } finally {
      closeQuietly(nsBFd)
      a.close()
      b.close()
    }
  })

  it('name the step that failed: a namespace that does not exist', async () => {
    const err = await openNetnsNetlink(`/run/netns/${tag}-none`).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SyscallError)
    expect(err).toMatchObject({ code: 'ESYSCALL', errno: 'ENOENT' })
    expect((err as Error).message).toContain('open netns')
  })
})

describe('as an ordinary user', () => {
  let user: UnprivilegedUser
  beforeAll(() => (user = makeUnprivilegedUser()))
  afterAll(() => user?.remove())

  it('drives a network namespace of its own user namespace, which Node itself cannot enter', () => {
    const r = user.node(`
      const { spawn } = require('node:child_process')
      const { openNetnsNetlink } = lib('network/netns-sockets')
      const { Firewall } = lib('network/nftables')
      const { parseCidr } = lib('network/ipam')
      const { setns, CLONE_NEWNET } = lib('sys/libc')
      const { openNetns } = lib('sys/netns')
      ;(async () => {
        const holder = spawn('unshare', ['-Urn', 'sleep', '60'], { stdio: 'ignore' })
        await new Promise((r) => setTimeout(r, 300))
        const path = '/proc/' + holder.pid + '/ns/net'
        let setnsError = ''
        try { setns(openNetns(path), CLONE_NEWNET) } catch (e) { setnsError = e.errno }
        const nl = await openNetnsNetlink(path)
        const br = await nl.rtnl.createBridge('userbr0')
        await nl.rtnl.addAddress(br, ${JSON.stringify(subnet!.host(1))}, 24)
        await nl.rtnl.up(br)
        await new Firewall('usertable', 'userbr', '', nl.nfnl).addNetwork({ id: 'n', bridge: 'userbr0', subnet: parseCidr(${JSON.stringify(subnet!.cidr)}), internal: false })
        const links = (await nl.rtnl.links()).map((l) => l.name)
        const inside = require('node:child_process').execFileSync('nsenter', ['-t', String(holder.pid), '-U', '-n', '--preserve-credentials', 'sh', '-c', 'ip -br addr; /usr/sbin/nft list tables'], { encoding: 'utf8' })
        nl.close()
        holder.kill('SIGKILL')
        console.log(JSON.stringify({ setnsError, links, inside }))
      })().catch((e) => { console.error(e); process.exit(1) })
    `)
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    const out = JSON.parse(r.stdout) as { setnsError: string; links: string[]; inside: string }
    expect(out.setnsError).toBe('EPERM')
    expect(out.links).toEqual(expect.arrayContaining(['lo', 'userbr0']))
    expect(out.inside).toContain(`${subnet!.host(1)}/24`)
    expect(out.inside).toContain('table ip usertable')
    expect(ip('-br', 'link')).not.toContain('userbr0')
  })
})
