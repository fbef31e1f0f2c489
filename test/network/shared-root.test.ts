/**
 * Two services on one runtime root, as two processes would have: claims
 * (addresses, ports, names, subnets) never go to both. Subnets, claimed
 * per run (test/net-helpers.ts): the default bridge's and a user network's.
 */
import * as fs from 'node:fs'
import { NetworkService } from '../../lib/network/service'
import { pickFreePort } from '../../lib/network/port-probe'
import { useSubnets } from '../net-helpers'
import { hostLinks, makeRoot, nftTables, tcpFetch, TestNetns, v6Listeners } from './helpers'

describe('two services sharing a root', () => {
  const [bridgeNet, sharedNet] = useSubnets(2)
  const root = makeRoot()
  const one = new NetworkService({ root, subnetPool: [bridgeNet.cidr] })
  const two = new NetworkService({ root, subnetPool: [bridgeNet.cidr] })
  const spaces: TestNetns[] = []
  const ns = () => {
    const n = new TestNetns()
    spaces.push(n)
    return n
  }
  const ref = (name: string) => ({ id: name.padEnd(64, '0'), name, hostname: name })

  afterAll(async () => {
    await one.destroy()
    await two.destroy()
    one.close()
    two.close()
    for (const s of spaces) s.close()
    fs.rmSync(root, { recursive: true, force: true })
    expect(hostLinks(one.names.bridgePrefix)).toEqual([])
    expect(nftTables()).not.toContain(`table ip ${one.names.table}`)
  })

  test('concurrent connects get distinct addresses on one default network', async () => {
    const [a, b, c, d] = [ns(), ns(), ns(), ns()]
    const settings = await Promise.all([
      one.connect(ref('sa'), a.fd, 'bridge'),
      two.connect(ref('sb'), b.fd, 'bridge'),
      one.connect(ref('sc'), c.fd, 'bridge'),
      two.connect(ref('sd'), d.fd, 'bridge'),
    ])
    const ips = settings.map((s) => s.ipAddress)
    expect(new Set(ips).size).toBe(4)
    expect(ips.every((ip) => ip.startsWith(bridgeNet.stem))).toBe(true)
    expect((await one.list()).filter((n) => n.name === 'bridge')).toHaveLength(1)
    expect(a.ping(ips[1])).toBe(true)
    for (const id of ['sa', 'sb', 'sc', 'sd']) await one.release(ref(id).id)
  })

  test('a network name, a static address and a host port go to one claimant only', async () => {
    const results = await Promise.allSettled([one.create('shared-net', { subnet: sharedNet.cidr }), two.create('shared-net', { subnet: sharedNet.cidr })])
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: expect.stringMatching(/ENAMECONFLICT|EINVALID/) } })

    const [a, b] = [ns(), ns()]
    const ips = await Promise.allSettled([one.connect(ref('ipa'), a.fd, 'shared-net', { ip: sharedNet.host(7) }), two.connect(ref('ipb'), b.fd, 'shared-net', { ip: sharedNet.host(7) })])
    expect(ips.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected'])
    await one.release(ref('ipa').id)
    await one.release(ref('ipb').id)

    const hp = (await pickFreePort('tcp', '', () => false))!
    const ports = await Promise.allSettled([one.connect(ref('pa'), a.fd, 'bridge', { ports: [`${hp}:80`] }), two.connect(ref('pb'), b.fd, 'bridge', { ports: [`${hp}:80`] })])
    expect(ports.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected'])
    expect(ports.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'EPORTINUSE' } })
    await two.release(ref('pa').id)
    await two.release(ref('pb').id)
    await one.remove('shared-net')
    expect(fs.readdirSync(`${root}/networks/leases`).filter((f) => !f.includes('bridge') && !f.startsWith(`subnet-${bridgeNet.stem}`))).toEqual([])
  })

  // Root's IPv6 relay is a child of the process that published the port, whose release alone closed it: another
  // process's release (rm, its collection after an exit) left it listening on [::]:port, EPORTINUSE ('a process on
  // the host') until the first process exited. It now ends with the container's host veth.
  test("a port on every address published by one service and released by the other leaves no [::] relay behind: the port is free again for a new container", async () => {
    const [a, b] = [ns(), ns()]
    const hp = (await pickFreePort('tcp', '', () => false))!
    try {
      await one.connect(ref('v6-rel'), a.fd, 'bridge', { ports: [`${hp}:80`] })
      expect(v6Listeners(hp)).toEqual([`[::]:${hp}`])
      // Another process's runtime releases it (it removed the container, or collected it after its exit).
      await two.release(ref('v6-rel').id)
      expect(v6Listeners(hp)).toEqual([])
      await expect(two.connect(ref('v6-next'), b.fd, 'bridge', { ports: [`${hp}:80`] })).resolves.toBeDefined()
    } finally {
      await two.release(ref('v6-next').id)
      await one.release(ref('v6-rel').id)
    }
    expect(v6Listeners(hp)).toEqual([])
  })

  test("a port on every address whose container's namespace ended, released by no process yet, leaves no [::] relay behind", async () => {
    // Closed here, not by afterAll: its number may be reused by then.
    let a: TestNetns | undefined = new TestNetns()
    const hp = (await pickFreePort('tcp', '', () => false))!
    try {
      await one.connect(ref('v6-gone'), a.fd, 'bridge', { ports: [`${hp}:80`] })
      expect(v6Listeners(hp)).toEqual([`[::]:${hp}`])
      // As when a container's last process ends: the namespace goes, and its veth with it (the kernel's cleanup is asynchronous).
      a.close()
      a = undefined
      for (let i = 0; i < 50 && v6Listeners(hp).length; i++) await new Promise((r) => setTimeout(r, 100))
      expect(v6Listeners(hp)).toEqual([])
    } finally {
      a?.close()
      await one.release(ref('v6-gone').id)
    }
  })

  test("one service's garbage collection never deletes the veth or port rules the other makes during it", async () => {
    // The interleaving that lost a worker's published port right after it was ready: `two` collects
    // orphans (as a process's runtime.ready() does) while `one` connects a container with a port.
    // `one`'s connect is run at the moment `two` takes the kernel's list of links.
    const a = ns()
    const hp = (await pickFreePort('tcp', '', () => false))!
    const host = (two as unknown as { sockets: { host: { links: () => Promise<unknown> } } }).sockets.host
    const dump = host.links.bind(host)
    let made: Promise<unknown> | undefined
    host.links = async () => {
      made ??= one.connect(ref('gc-race'), a.fd, 'bridge', { ports: [`${hp}:80`] })
      await made
      return dump()
    }
    try {
      await two.gc(() => true)
    } finally {
      host.links = dump
    }
    await made
    // Its veth is still on the host, and its published port still leads to the namespace.
    expect(hostLinks(one.names.vethPrefix)).toHaveLength(1)
    await a.serve('tcp', 80, 'still-here')
    expect(tcpFetch('127.0.0.1', hp)).toMatch(/^still-here /)
    await one.release(ref('gc-race').id)
    expect(hostLinks(one.names.vethPrefix)).toHaveLength(0)
  })
})

