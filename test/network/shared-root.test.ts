/**
 * Two services on one runtime root, as two processes would have: claims
 * (addresses, ports, names, subnets) never go to both. Subnets
 * 10.213.25.0/24 (default bridge) and 10.213.26.0/24.
 */
import * as fs from 'node:fs'
import { NetworkService } from '../../lib/network/service'
import { pickFreePort } from '../../lib/network/port-probe'
import { hostLinks, makeRoot, nftTables, TestNetns } from './helpers'

describe('two services sharing a root', () => {
  const root = makeRoot()
  const one = new NetworkService({ root, subnetPool: ['10.213.25.0/24'] })
  const two = new NetworkService({ root, subnetPool: ['10.213.25.0/24'] })
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
    expect(ips.every((ip) => ip.startsWith('10.213.25.'))).toBe(true)
    expect((await one.list()).filter((n) => n.name === 'bridge')).toHaveLength(1)
    expect(a.ping(ips[1])).toBe(true)
    for (const id of ['sa', 'sb', 'sc', 'sd']) await one.release(ref(id).id)
  })

  test('a network name, a static address and a host port go to one claimant only', async () => {
    const results = await Promise.allSettled([one.create('shared-net', { subnet: '10.213.26.0/24' }), two.create('shared-net', { subnet: '10.213.26.0/24' })])
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: expect.stringMatching(/ENAMECONFLICT|EINVALID/) } })

    const [a, b] = [ns(), ns()]
    const ips = await Promise.allSettled([one.connect(ref('ipa'), a.fd, 'shared-net', { ip: '10.213.26.7' }), two.connect(ref('ipb'), b.fd, 'shared-net', { ip: '10.213.26.7' })])
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
    expect(fs.readdirSync(`${root}/networks/leases`).filter((f) => !f.includes('bridge') && !f.startsWith('subnet-10.213.25'))).toEqual([])
  })
})
