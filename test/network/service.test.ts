/**
 * NetworkService against the real kernel, with network namespaces standing
 * in for containers. Subnets are claimed per run (test/net-helpers.ts).
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { Firewall } from '../../lib/network/nftables'
import type { Rtnl } from '../../lib/network/rtnl'
import { NetworkService } from '../../lib/network/service'
import { ipPattern, macOf, useSubnets } from '../net-helpers'
import { exitStatus, hostLinks, makeRoot, nftTables, TestNetns } from './helpers'

/** Resolves `name` inside `ns` with `hostsFile` mounted as /etc/hosts (private mount namespace, gone on exit). */
function resolveIn(ns: TestNetns, hostsFile: string, name: string): string {
  const cmd = ['unshare', '-m', 'sh', '-c', `mount --bind ${hostsFile} /etc/hosts && getent -s files hosts ${name}`]
  try {
    return ns.run(cmd).trim().split(/\s+/)[0]
  } catch (err) {
    if (exitStatus(err, cmd) === 2) return '' // getent: the name is not in the file
    throw err
  }
}

describe('NetworkService', () => {
  const [bridgeNet, users, statics, isoX, isoY] = useSubnets(5)
  const root = makeRoot()
  const svc = new NetworkService({ root, subnetPool: [bridgeNet.cidr] })
  const spaces: TestNetns[] = []
  let n = 0

  /** A fake container: a namespace and a hosts file. */
  function container(name: string) {
    const ns = new TestNetns()
    spaces.push(ns)
    const id = `${name}-${String(++n).padStart(2, '0')}`.padEnd(64, '0')
    const hostsFile = path.join(root, `${name}.hosts`)
    fs.writeFileSync(hostsFile, '127.0.0.1\tlocalhost\n')
    return { ns, ref: { id, name, hostname: name, hostsFile } }
  }

  afterAll(async () => {
    await svc.destroy()
    await svc.close()
    for (const s of spaces) s.close()
    fs.rmSync(root, { recursive: true, force: true })
    expect(hostLinks(svc.names.bridgePrefix)).toEqual([])
    expect(hostLinks(svc.names.vethPrefix)).toEqual([])
    expect(nftTables()).not.toContain(`table ip ${svc.names.table}`)
  })

  test('default bridge: consecutive addresses, ping by IP, no name resolution', async () => {
    const a = container('alpha')
    const b = container('beta')
    const sa = await svc.connect(a.ref, a.ns.fd, 'bridge')
    const sb = await svc.connect(b.ref, b.ns.fd, 'bridge')
    expect(sa).toMatchObject({ ipAddress: bridgeNet.host(2), gateway: bridgeNet.host(1), ipPrefixLen: 24, macAddress: macOf(bridgeNet.host(2)), ports: {} })
    expect(sb.ipAddress).toBe(bridgeNet.host(3))
    expect(Object.keys(sa.networks)).toEqual(['bridge'])
    expect(hostLinks(svc.names.defaultBridge)).toEqual([svc.names.defaultBridge])
    expect(a.ns.run(['ip', '-o', 'link', 'show', 'lo'])).toContain('UP')
    expect(a.ns.run(['ip', 'route'])).toContain(`default via ${bridgeNet.host(1)} dev eth0`)
    expect(a.ns.run(['ip', '-6', 'addr', 'show', 'dev', 'eth0']).trim()).toBe('') // IPv4-only network
    expect(a.ns.ping(bridgeNet.host(3))).toBe(true)
    expect(b.ns.ping(bridgeNet.host(2))).toBe(true)
    expect(resolveIn(a.ns, a.ref.hostsFile, 'beta')).toBe('')
    expect(resolveIn(a.ns, a.ref.hostsFile, 'alpha')).toBe(bridgeNet.host(2))
    expect((await svc.get('bridge')).containers[a.ref.id]).toMatchObject({ name: 'alpha', ipAddress: bridgeNet.host(2) })
    await svc.release(a.ref.id)
    await svc.release(b.ref.id)
    await svc.release(b.ref.id) // idempotent
    expect(hostLinks(svc.names.vethPrefix)).toEqual([])
  })

  test('links give a name on the default bridge', async () => {
    const a = container('linked')
    await svc.connect(a.ref, a.ns.fd, 'bridge', { links: [{ name: 'mysql01', alias: 'mysql', ip: bridgeNet.host(77) }] })
    expect(resolveIn(a.ns, a.ref.hostsFile, 'mysql')).toBe(bridgeNet.host(77))
    expect(resolveIn(a.ns, a.ref.hostsFile, 'mysql01')).toBe(bridgeNet.host(77))
    await svc.release(a.ref.id)
  })

  test('user network: names and aliases resolve, and follow a restart with a new IP', async () => {
    const net = await svc.create('svc-users', { subnet: users.cidr, labels: { team: 'x' } })
    expect(net).toMatchObject({ name: 'svc-users', subnet: users.cidr, gateway: users.host(1), internal: false, labels: { team: 'x' }, driver: 'bridge' })
    const web = container('web')
    const db = container('db1')
    await svc.connect(web.ref, web.ns.fd, 'svc-users')
    await svc.connect(db.ref, db.ns.fd, 'svc-users', { aliases: ['db'] })
    expect(resolveIn(web.ns, web.ref.hostsFile, 'db')).toBe(users.host(3))
    expect(resolveIn(web.ns, web.ref.hostsFile, 'db1')).toBe(users.host(3))
    expect(resolveIn(db.ns, db.ref.hostsFile, 'web')).toBe(users.host(2))
    expect(svc.hostsFor(web.ref.id)).toMatch(new RegExp(`^# minicontainer network: begin.*\n${ipPattern(users.host(2))}\tweb\n${ipPattern(users.host(3))}\tdb1 db [0-9a-z-]{12}\n# minicontainer network: end\n$`))
    expect(fs.readFileSync(web.ref.hostsFile, 'utf8')).toBe('127.0.0.1\tlocalhost\n' + svc.hostsFor(web.ref.id))
    expect(web.ns.run(['unshare', '-m', 'sh', '-c', `mount --bind ${web.ref.hostsFile} /etc/hosts && ping -c1 -W1 db`])).toContain('1 received')

    // "Restart" db in a fresh namespace with another address: web's file changes in place.
    const inode = fs.statSync(web.ref.hostsFile).ino
    await svc.release(db.ref.id)
    expect(resolveIn(web.ns, web.ref.hostsFile, 'db')).toBe('')
    const db2 = new TestNetns()
    spaces.push(db2)
    await svc.connect(db.ref, db2.fd, 'svc-users', { aliases: ['db'], ip: users.host(50) })
    expect(fs.statSync(web.ref.hostsFile).ino).toBe(inode)
    expect(resolveIn(web.ns, web.ref.hostsFile, 'db')).toBe(users.host(50))
    expect(web.ns.ping(users.host(50))).toBe(true)
    expect(Object.keys((await svc.get('svc-users')).containers).sort()).toEqual([db.ref.id, web.ref.id].sort())

    await expect(svc.remove('svc-users')).rejects.toMatchObject({ code: 'EINUSE' })
    await svc.release(web.ref.id)
    await svc.release(db.ref.id)
    await svc.remove('svc-users')
    await expect(svc.get('svc-users')).rejects.toMatchObject({ code: 'ENONETWORK' })
  })

  test('static addresses: conflicts, outside the subnet, default bridge', async () => {
    await svc.create('svc-static', { subnet: statics.cidr })
    const a = container('st1')
    const b = container('st2')
    await svc.connect(a.ref, a.ns.fd, 'svc-static', { ip: statics.host(9) })
    await expect(svc.connect(b.ref, b.ns.fd, 'svc-static', { ip: statics.host(9) })).rejects.toMatchObject({ code: 'EINUSE' })
    await expect(svc.connect(b.ref, b.ns.fd, 'svc-static', { ip: isoX.host(9) })).rejects.toMatchObject({ code: 'EINVALID' })
    await expect(svc.connect(b.ref, b.ns.fd, 'svc-static', { ip: statics.host(1) })).rejects.toMatchObject({ code: 'EINUSE' })
    await expect(svc.connect(b.ref, b.ns.fd, 'bridge', { ip: bridgeNet.host(9) })).rejects.toMatchObject({ code: 'EINVALID' })
    await expect(svc.connect(b.ref, b.ns.fd, 'nonesuch')).rejects.toMatchObject({ code: 'ENONETWORK' })
    // Failed connects leave nothing: no interface inside, no record.
    expect(b.ns.run(['ip', '-o', 'link'])).not.toContain('eth0')
    expect(svc.settings(b.ref.id)).toBeUndefined()
    expect((await svc.connect(b.ref, b.ns.fd, 'svc-static')).ipAddress).toBe(statics.host(2))
    await svc.release(a.ref.id)
    await svc.release(b.ref.id)
  })

  test('network CRUD errors', async () => {
    await expect(svc.create('bridge')).rejects.toMatchObject({ code: 'EINVALID' })
    await expect(svc.create('bad name!')).rejects.toMatchObject({ code: 'EINVALID' })
    await expect(svc.create('svc-static')).rejects.toMatchObject({ code: 'ENAMECONFLICT' })
    await expect(svc.create('svc-overlap', { subnet: `${statics.host(128)}/25` })).rejects.toMatchObject({ code: 'EINVALID' })
    await expect(svc.create('svc-gw', { subnet: isoY.cidr, gateway: isoX.host(1) })).rejects.toMatchObject({ code: 'EINVALID' })
    await expect(svc.remove('bridge')).rejects.toMatchObject({ code: 'EINVALID' })
    await expect(svc.remove('nope')).rejects.toMatchObject({ code: 'ENONETWORK' })
    const byId = await svc.get('svc-static')
    expect((await svc.get(byId.id.slice(0, 12))).name).toBe('svc-static')
    expect((await svc.list()).map((x) => x.name).sort()).toEqual(['bridge', 'svc-static'])
    expect(await svc.prune()).toEqual(['svc-static'])
    expect((await svc.list()).map((x) => x.name)).toEqual(['bridge'])
  })

  test('isolation between user networks; live attach/detach', async () => {
    await svc.create('svc-iso-x', { subnet: isoX.cidr })
    await svc.create('svc-iso-y', { subnet: isoY.cidr })
    const a = container('isoa')
    const b = container('isob')
    await svc.connect(a.ref, a.ns.fd, 'svc-iso-x')
    await svc.connect(b.ref, b.ns.fd, 'svc-iso-y')
    expect(a.ns.ping(isoX.host(1))).toBe(true)
    expect(a.ns.ping(isoY.host(2))).toBe(false)
    expect(resolveIn(a.ns, a.ref.hostsFile, 'isob')).toBe('')

    const ep = await svc.attach(a.ref.id, a.ns.fd, 'svc-iso-y', { aliases: ['alpha'] })
    expect(ep).toMatchObject({ ipAddress: isoY.host(3), gateway: isoY.host(1), aliases: ['alpha'] })
    expect(a.ns.run(['ip', '-o', '-4', 'addr', 'show', 'eth1'])).toContain(`${isoY.host(3)}/24`)
    expect(a.ns.ping(isoY.host(2))).toBe(true)
    expect(resolveIn(a.ns, a.ref.hostsFile, 'isob')).toBe(isoY.host(2))
    expect(resolveIn(b.ns, b.ref.hostsFile, 'alpha')).toBe(isoY.host(3))
    expect(Object.keys(svc.settings(a.ref.id)!.networks).sort()).toEqual(['svc-iso-x', 'svc-iso-y'])
    await expect(svc.attach(a.ref.id, a.ns.fd, 'svc-iso-y')).rejects.toMatchObject({ code: 'ENAMECONFLICT' })

    await svc.detach(a.ref.id, 'svc-iso-y')
    expect(a.ns.run(['ip', '-o', 'link'])).not.toContain('eth1')
    expect(a.ns.ping(isoY.host(2))).toBe(false)
    expect(resolveIn(b.ns, b.ref.hostsFile, 'alpha')).toBe('')
    await expect(svc.detach(a.ref.id, 'svc-iso-y')).rejects.toMatchObject({ code: 'EINVALID' })
    await svc.release(a.ref.id)
    await svc.release(b.ref.id)
    await svc.remove('svc-iso-x')
    await svc.remove('svc-iso-y')
  })

  test("a container that published no port is released without a word to nf_tables (no rule dump queued before the next start); one that did loses its rules", async () => {
    const quiet = container('noports')
    const loud = container('ports')
    await svc.connect(quiet.ref, quiet.ns.fd, 'bridge')
    await svc.connect(loud.ref, loud.ns.fd, 'bridge', { ports: ['127.0.0.1::80'] })
    // Counts the dumps of the service's real firewall socket (each release's rule removal starts with one).
    const fw = (svc as unknown as { sockets: { fw: Firewall } }).sockets.fw
    const rules = fw.rules.bind(fw)
    let dumps = 0
    fw.rules = () => (dumps++, rules())
    try {
      await svc.release(quiet.ref.id)
      expect(dumps).toBe(0)
      await svc.release(loud.ref.id)
      expect(dumps).toBe(1)
      expect(execFileSync('nft', ['list', 'table', 'ip', svc.names.table]).toString()).not.toContain(`ctr:${loud.ref.id}`)
    } finally {
      fw.rules = rules
    }
  })

  test('a container whose publish a crash cut short (record saved marked, before its rules; no port listed yet) loses its rules at its release', async () => {
    const c = container('cutshort')
    const file = path.join(root, 'networks', 'endpoints', `${c.ref.id}.json`)
    const fw = (svc as unknown as { sockets: { fw: Firewall } }).sockets.fw
    const addPorts = fw.addPorts.bind(fw)
    let onDisk: { ports: unknown[]; publishing?: boolean } | undefined
    fw.addPorts = (id, ports) => ((onDisk = JSON.parse(fs.readFileSync(file, 'utf8'))), addPorts(id, ports))
    try {
      await svc.connect(c.ref, c.ns.fd, 'bridge', { ports: ['127.0.0.1::80'] })
    } finally {
      fw.addPorts = addPorts
    }
    // While the rules were made, the record on disk said so.
    expect(onDisk).toMatchObject({ ports: [], publishing: true })
    // What a crash right after the rules leaves: that record; another process releases the container.
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), ports: [], publishing: true }))
    expect(execFileSync('nft', ['list', 'table', 'ip', svc.names.table]).toString()).toContain(`ctr:${c.ref.id}`)
    const next = new NetworkService({ root, subnetPool: [bridgeNet.cidr] })
    await next.release(c.ref.id)
    await next.close()
    expect(execFileSync('nft', ['list', 'table', 'ip', svc.names.table]).toString()).not.toContain(`ctr:${c.ref.id}`)
  })

  test("a container without ports has its record written once per connect, and its release reads no claim but its own ports' (a publish cut short still has every claim of its own looked at)", async () => {
    const store = (svc as unknown as { store: { saveContainer: (r: unknown) => void } }).store
    const leases = (svc as unknown as { leases: { releaseAll: (...a: unknown[]) => void } }).leases
    const save = store.saveContainer.bind(store)
    const releaseAll = leases.releaseAll.bind(leases)
    let saves = 0
    let scans = 0
    store.saveContainer = (r) => (saves++, save(r))
    leases.releaseAll = (...a) => (scans++, releaseAll(...a))
    const plain = container('oncesaved')
    const published = container('portlease')
    const leaseDir = path.join(root, 'networks', 'leases')
    try {
      await svc.connect(plain.ref, plain.ns.fd, 'bridge')
      expect(saves).toBe(1)
      const hostPort = (await svc.connect(published.ref, published.ns.fd, 'bridge', { ports: ['127.0.0.1::80'] })).ports['80/tcp']![0]!.hostPort
      const portLease = path.join(leaseDir, `port-tcp-${hostPort}`)
      expect(fs.readFileSync(portLease, 'utf8')).toBe(published.ref.id)
      await svc.release(plain.ref.id)
      await svc.release(published.ref.id)
      expect(scans).toBe(0)
      expect(fs.existsSync(portLease)).toBe(false)
      // A record marked publishing (a crash in its publish) may hold claims it does not list: they go too.
      const cut = container('cutclaims')
      await svc.connect(cut.ref, cut.ns.fd, 'bridge')
      const file = path.join(root, 'networks', 'endpoints', `${cut.ref.id}.json`)
      fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), publishing: true }))
      fs.writeFileSync(path.join(leaseDir, 'port-tcp-1'), cut.ref.id)
      await svc.release(cut.ref.id)
      expect(scans).toBe(1)
      expect(fs.existsSync(path.join(leaseDir, 'port-tcp-1'))).toBe(false)
    } finally {
      store.saveContainer = save
      leases.releaseAll = releaseAll
    }
  })

  test("a release waits for the dead namespace's veth without an rtnetlink request (each waits for the rtnl lock on the event loop while namespaces are cleaned up)", async () => {
    const c = container('vethwait')
    await svc.connect(c.ref, c.ns.fd, 'bridge')
    const veth = JSON.parse(fs.readFileSync(path.join(root, 'networks', 'endpoints', `${c.ref.id}.json`), 'utf8')).endpoints[0].hostVeth as string
    // Counts the link lookups of the service's real rtnetlink socket.
    const host = (svc as unknown as { sockets: { host: Rtnl } }).sockets.host
    const link = host.link.bind(host)
    let lookups = 0
    host.link = (name) => (lookups++, link(name))
    try {
      // The container's end goes: the kernel removes the pair in the background.
      c.ns.close()
      await svc.release(c.ref.id)
      expect(hostLinks(svc.names.vethPrefix)).not.toContain(veth)
      expect(lookups).toBe(0)
    } finally {
      host.link = link
    }
  })

  test('gc after a crash: a new service on the same root removes dead containers and orphans', async () => {
    const a = container('crash1')
    const b = container('crash2')
    await svc.connect(a.ref, a.ns.fd, 'bridge', { ports: ['127.0.0.1::80'] })
    await svc.connect(b.ref, b.ns.fd, 'bridge')
    const aVeth = Object.values(JSON.parse(fs.readFileSync(path.join(root, 'networks', 'endpoints', `${a.ref.id}.json`), 'utf8')).endpoints as { hostVeth: string }[])[0].hostVeth
    // An orphan veth with our prefix and no record (as if the process died between create and save).
    execFileSync('ip', ['link', 'add', `${svc.names.vethPrefix}dead`, 'type', 'veth', 'peer', 'name', `${svc.names.vethPrefix}dea2`])

    const next = new NetworkService({ root, subnetPool: [bridgeNet.cidr] })
    await next.gc((id) => id === b.ref.id)
    await next.close()
    expect(hostLinks(svc.names.vethPrefix)).not.toContain(aVeth)
    expect(hostLinks(svc.names.vethPrefix)).toHaveLength(1) // b's
    expect(hostLinks(`${svc.names.vethPrefix}dea`)).toEqual([])
    expect(execFileSync('nft', ['list', 'table', 'ip', svc.names.table]).toString()).not.toContain(`ctr:${a.ref.id}`)
    expect(svc.settings(a.ref.id)).toBeUndefined()
    expect(b.ns.ping(bridgeNet.host(1))).toBe(true)
    await svc.release(b.ref.id)
  })
})
