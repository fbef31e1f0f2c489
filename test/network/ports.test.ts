/**
 * Published ports and NAT against the real kernel, with network namespaces
 * standing in for containers. Traffic goes only to 127.0.0.1, to our bridge
 * gateways and to namespaces made here. Subnets, claimed per run
 * (test/net-helpers.ts): the default bridge's, a test-made "outside"
 * namespace's, an internal network's.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import * as fs from 'node:fs'
import * as net from 'node:net'
import { hostHasIpv6, pickFreePort } from '../../lib/network/port-probe'
import { NetworkService } from '../../lib/network/service'
import { useSubnets } from '../net-helpers'
import { nodeScript } from '../tools/node-child'
import { hostLinks, makeRoot, nftTables, onEveryAddress, TestNetns, tcpFetch, udpFetch } from './helpers'

const [bridgeNet, outsideNet, internalNet] = useSubnets(3)
const GW = bridgeNet.host(1)

async function freePort(proto: 'tcp' | 'udp' = 'tcp'): Promise<number> {
  return (await pickFreePort(proto, '', () => false))!
}

/** A free TCP port whose next port is free too. */
async function freeRange(): Promise<number> {
  const canBind = (port: number) => new Promise<boolean>((resolve) => {
    const srv = net.createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, () => srv.close(() => resolve(true)))
  })
  for (;;) {
    const p = await freePort()
    if (p < 65535 && (await canBind(p + 1))) return p
  }
}


describe('published ports and NAT', () => {
  const root = makeRoot()
  const svc = new NetworkService({ root, subnetPool: [bridgeNet.cidr] })
  const spaces: TestNetns[] = []
  let n = 0
  const outsideVeth = `mct${randomBytes(3).toString('hex')}o`
  let outside: TestNetns

  function container(name: string) {
    const ns = new TestNetns()
    spaces.push(ns)
    return { ns, ref: { id: `${name}${++n}`.padEnd(64, 'f'), name, hostname: name } }
  }

  beforeAll(async () => {
    // A namespace on the far side of the host, reached by routing (not through our bridge): stands in for "the outside".
    outside = new TestNetns()
    spaces.push(outside)
    execFileSync('ip', ['link', 'add', outsideVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outside.path])
    execFileSync('ip', ['addr', 'add', `${outsideNet.host(1)}/24`, 'dev', outsideVeth])
    execFileSync('ip', ['link', 'set', outsideVeth, 'up'])
    outside.run(['ip', 'addr', 'add', `${outsideNet.host(2)}/24`, 'dev', 'eth0'])
    outside.run(['ip', 'link', 'set', 'eth0', 'up'])
    await outside.serve('tcp', 7000, 'outside')
  })

  afterAll(async () => {
    await svc.destroy()
    svc.close()
    try {
      execFileSync('ip', ['link', 'del', outsideVeth])
    } catch {
      // gone with its namespace
    }
    for (const s of spaces) s.close()
    fs.rmSync(root, { recursive: true, force: true })
    expect(hostLinks(svc.names.bridgePrefix)).toEqual([])
    expect(hostLinks(svc.names.vethPrefix)).toEqual([])
    expect(hostLinks(outsideVeth)).toEqual([])
    expect(nftTables()).not.toContain(`table ip ${svc.names.table}`)
  })

  test('TCP: reached on 127.0.0.1 (source shown as the gateway) and on the gateway address', async () => {
    const c = container('tcpweb')
    const hp = await freePort()
    const s = await svc.connect(c.ref, c.ns.fd, 'bridge', { ports: [`${hp}:80`] })
    expect(s.ports).toEqual({ '80/tcp': onEveryAddress(hp) })
    await c.ns.serve('tcp', 80, 'web')
    expect(tcpFetch('127.0.0.1', hp)).toBe(`web ${GW}`)
    expect(tcpFetch(GW, hp)).toBe(`web ${GW}`)
    await svc.release(c.ref.id)
    expect(tcpFetch('127.0.0.1', hp)).toBe('')
  })

  test('UDP and a specific host address', async () => {
    const c = container('udpdns')
    const hp = await freePort('udp')
    const s = await svc.connect(c.ref, c.ns.fd, 'bridge', { ports: [`127.0.0.1:${hp}:53/udp`] })
    expect(s.ports['53/udp']).toEqual([{ hostIp: '127.0.0.1', hostPort: String(hp) }])
    await c.ns.serve('udp', 53, 'dns')
    expect(udpFetch('127.0.0.1', hp)).toBe(`dns ${GW}`)
    // Bound to 127.0.0.1 only: the gateway address is not forwarded.
    expect(udpFetch(GW, hp)).toBe('')
    await svc.release(c.ref.id)
  })

  test("IPv6 host addresses are relayed to the container's IPv4 address, as Docker's userland proxy: '[::1]:hp:80' on ::1 alone, and a port on every address on [::] too (IPV6_V6ONLY beside the DNAT rule); the relays end with the release", async () => {
    const c = container('v6web')
    const [every, loopback6] = [await freePort(), await freePort()]
    const s = await svc.connect(c.ref, c.ns.fd, 'bridge', { ports: [`${every}:80`, `[::1]:${loopback6}:80`, `[::1]:${loopback6}:53/udp`] })
    // Listed on both sides of every address, as Docker 20.10 lists them.
    expect(s.ports).toEqual({ '80/tcp': [{ hostIp: '0.0.0.0', hostPort: String(every) }, { hostIp: '::', hostPort: String(every) }, { hostIp: '::1', hostPort: String(loopback6) }], '53/udp': [{ hostIp: '::1', hostPort: String(loopback6) }] })
    await c.ns.serve('tcp', 80, 'web')
    await c.ns.serve('udp', 53, 'dns')
    const listening = (): string[] => execFileSync('ss', ['-Hltun'], { encoding: 'utf8' }).split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f[4] && [every, loopback6].map(String).includes(f[4].split(':').pop()!)).map((f) => `${f[0]} ${f[4]}`).sort()
    expect(listening()).toEqual([`tcp [::1]:${loopback6}`, `tcp [::]:${every}`, `udp [::1]:${loopback6}`].sort())
    // The relay connects from the host's namespace: the container sees the gateway as the source, as through DNAT.
    expect(tcpFetch('::1', every)).toBe(`web ${GW}`)
    expect(tcpFetch('127.0.0.1', every)).toBe(`web ${GW}`)
    expect(tcpFetch('::1', loopback6)).toBe(`web ${GW}`)
    expect(udpFetch('::1', loopback6)).toBe(`dns ${GW}`)
    expect(tcpFetch('127.0.0.1', loopback6)).toBe('')
    await svc.release(c.ref.id)
    expect(listening()).toEqual([])
    expect(tcpFetch('::1', every)).toBe('')
  })

  test("a port on every address lists its [::] side from what was bound, not from the IPv6 of the process that asks: one in a network namespace without IPv6 still lists it", async () => {
    expect(hostHasIpv6()).toBe(true)
    const c = container('v6seen')
    const hp = await freePort()
    await svc.connect(c.ref, c.ns.fd, 'bridge', { ports: [`${hp}:80`] })
    try {
      const asked = nodeScript(`const { NetworkService } = lib('network/service')
        const svc = new NetworkService({ root: ${JSON.stringify(root)}, subnetPool: [${JSON.stringify(bridgeNet.cidr)}] })
        console.log(JSON.stringify({ ipv6: lib('network/port-probe').hostHasIpv6(), ports: svc.settings(${JSON.stringify(c.ref.id)}).ports }))
        svc.close()`)
      const seen = JSON.parse(execFileSync('unshare', ['-n', process.execPath, '-e', asked], { encoding: 'utf8' }))
      expect(seen).toEqual({ ipv6: false, ports: { '80/tcp': [{ hostIp: '0.0.0.0', hostPort: String(hp) }, { hostIp: '::', hostPort: String(hp) }] } })
    } finally {
      await svc.release(c.ref.id)
    }
  })

  test('a range "h1-h2:c1-c2" publishes each container port on its host port', async () => {
    const c = container('ranged')
    const low = await freeRange()
    const s = await svc.connect(c.ref, c.ns.fd, 'bridge', { ports: [`${low}-${low + 1}:80-81`] })
    expect(s.ports).toEqual({ '80/tcp': onEveryAddress(low), '81/tcp': onEveryAddress(low + 1) })
    await c.ns.serve('tcp', 80, 'eighty')
    await c.ns.serve('tcp', 81, 'eighty-one')
    expect(tcpFetch('127.0.0.1', low)).toBe(`eighty ${GW}`)
    expect(tcpFetch('127.0.0.1', low + 1)).toBe(`eighty-one ${GW}`)
    await svc.release(c.ref.id)
  })

  test('ephemeral ports and publishAll', async () => {
    const c = container('ephem')
    const s = await svc.connect(c.ref, c.ns.fd, 'bridge', { ports: ['80'], publishAll: true, exposedPorts: ['80/tcp', '81/tcp'] })
    const p80 = Number(s.ports['80/tcp'][0].hostPort)
    const p81 = Number(s.ports['81/tcp'][0].hostPort)
    expect(p80).toBeGreaterThan(1024)
    expect(p81).toBeGreaterThan(1024)
    expect(p80).not.toBe(p81)
    await c.ns.serve('tcp', 81, 'eighty-one')
    expect(tcpFetch('127.0.0.1', p81)).toBe(`eighty-one ${GW}`)
    await svc.release(c.ref.id)
  })

  test('a port held by a host process or another container is EPORTINUSE, and leaves nothing behind', async () => {
    const held = net.createServer()
    const hp = await new Promise<number>((resolve) => held.listen(0, '127.0.0.1', () => resolve((held.address() as net.AddressInfo).port)))
    const a = container('conflict')
    try {
      await expect(svc.connect(a.ref, a.ns.fd, 'bridge', { ports: [`${hp}:80`] })).rejects.toMatchObject({ code: 'EPORTINUSE', message: expect.stringContaining('host') })
    } finally {
      held.close()
    }
    expect(svc.settings(a.ref.id)).toBeUndefined()
    expect(a.ns.run(['ip', '-o', 'link'])).not.toContain('eth0')
    expect(execFileSync('nft', ['list', 'table', 'ip', svc.names.table]).toString()).not.toContain(`dport ${hp}`)

    const first = container('owner')
    const hp2 = await freePort()
    await svc.connect(first.ref, first.ns.fd, 'bridge', { ports: [`${hp2}:80`] })
    await expect(svc.connect(a.ref, a.ns.fd, 'bridge', { ports: [`127.0.0.1:${hp2}:8080`] })).rejects.toMatchObject({ code: 'EPORTINUSE', message: expect.stringContaining('owner') })
    await expect(svc.connect(a.ref, a.ns.fd, 'bridge', { ports: [`${hp}:80`, `${hp}:81`] })).rejects.toMatchObject({ code: 'EPORTINUSE' })
    // UDP on the same number is a different binding.
    await svc.connect(a.ref, a.ns.fd, 'bridge', { ports: [`${hp2}:80/udp`] })
    await svc.release(a.ref.id)
    await svc.release(first.ref.id)
  })

  test("a port on every address whose [::] side a host process holds (IPv6 alone) is EPORTINUSE naming the host, with nothing left", async () => {
    const held = net.createServer()
    const hp = await new Promise<number>((resolve) => held.listen({ port: 0, host: '::', ipv6Only: true }, () => resolve((held.address() as net.AddressInfo).port)))
    const a = container('v6held')
    try {
      await expect(svc.connect(a.ref, a.ns.fd, 'bridge', { ports: [`${hp}:80`] })).rejects.toMatchObject({ code: 'EPORTINUSE', message: expect.stringContaining(`host port [::]:${hp}/tcp is already in use by a process on the host`) })
      expect(svc.settings(a.ref.id)).toBeUndefined()
      expect(execFileSync('nft', ['list', 'table', 'ip', svc.names.table]).toString()).not.toContain(`dport ${hp}`)
      // 127.0.0.1 alone is another address: it publishes.
      const s = await svc.connect(a.ref, a.ns.fd, 'bridge', { ports: [`127.0.0.1:${hp}:80`] })
      expect(s.ports).toEqual({ '80/tcp': [{ hostIp: '127.0.0.1', hostPort: String(hp) }] })
      await svc.release(a.ref.id)
    } finally {
      held.close()
    }
  })

  test('hairpin: containers reach published ports (their own and a neighbour\'s) through the gateway address', async () => {
    const srv = container('hairsrv')
    const cli = container('haircli')
    const hp = await freePort()
    await svc.connect(srv.ref, srv.ns.fd, 'bridge', { ports: [`${hp}:80`] })
    await svc.connect(cli.ref, cli.ns.fd, 'bridge')
    await srv.ns.serve('tcp', 80, 'hair')
    expect(cli.ns.run(['nc', '-w', '2', GW, String(hp)]).trim()).toBe(`hair ${GW}`)
    expect(srv.ns.run(['nc', '-w', '2', GW, String(hp)]).trim()).toBe(`hair ${GW}`)
    await svc.release(srv.ref.id)
    await svc.release(cli.ref.id)
  })

  test('outbound traffic is masqueraded behind the host', async () => {
    const c = container('client')
    await svc.connect(c.ref, c.ns.fd, 'bridge')
    const got = c.ns.run(['nc', '-w', '2', outsideNet.host(2), '7000']).trim()
    expect(got).toBe(`outside ${outsideNet.host(1)}`)
    await svc.release(c.ref.id)
  })

  test('internal networks reach nothing outside their bridge', async () => {
    await svc.create('ports-internal', { subnet: internalNet.cidr, internal: true })
    const c = container('sealed')
    await svc.connect(c.ref, c.ns.fd, 'ports-internal')
    expect(c.ns.ping(internalNet.host(1))).toBe(true)
    expect(await c.ns.runAsync(['nc', '-w', '1', outsideNet.host(2), '7000'])).toEqual({ code: 1, stdout: '' })
    await svc.release(c.ref.id)
    await svc.remove('ports-internal')
  })
})
