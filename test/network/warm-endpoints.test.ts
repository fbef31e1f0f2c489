/**
 * Endpoints kept warm (lib/network/warm-endpoints.ts): after a start on a
 * network, a namespace with its veth already on that network's bridge waits
 * for the next start (two per network: a start takes one made a cycle
 * earlier while the next is being made). What must stay true, observed with `ip` and from
 * inside the containers: the next start takes it with Docker's MAC and
 * address; it never carries another network's traffic, nor is taken once
 * off its bridge (made again, or the veth collected by another runtime on
 * the same root); nothing of it is left after a network's removal,
 * Runtime.close() or the owner's SIGKILL. Traffic goes only to our gateways and containers.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import * as fs from 'node:fs'
import { Container, Image, Runtime, run } from '../../lib'
import { Network } from '../../lib/network/network'
import { netNames, runtimeTag } from '../../lib/network/names'
import type { Rtnl } from '../../lib/network/rtnl'
import { WARM_DEPTH, type WarmEndpoints } from '../../lib/network/warm-endpoints'
import { netlinkPortOf } from '../../lib/sys/sockets'
import { useSubnets } from '../net-helpers'
import { spawnNode } from '../tools/node-child'
import { eventually, hostLinks, makeRoot } from './helpers'

const [bridgeNet, netA, netB, netC, ownerNet, netD, netE, netF] = useSubnets(8)

/** The host-side veths of the runtime whose tag is `tag`: its containers' and the warm ones. */
function veths(tag: string): string[] {
  return hostLinks(netNames(tag).vethPrefix)
}

/** A host link's `ip -o link` line ("" once it is gone). */
function linkLine(link: string): string {
  return execFileSync('ip', ['-o', 'link', 'show']).toString().split('\n').find((l) => l.startsWith(`${/^\d+/.exec(l)?.[0]}: ${link}@`)) ?? ''
}

/** The bridge a host link is a port of ("" when none or gone). */
function masterOf(link: string): string {
  return /master (\S+)/.exec(linkLine(link))?.[1] ?? ''
}

/** `runtime`'s warm veths on `bridge`, lowest address first, once the refill after a start has made them all (bounded wait). */
async function warmOn(runtime: Runtime, bridge: string): Promise<string[]> {
  const on = () => runtime.networks.warmVeths().filter((l) => masterOf(l) === bridge)
  await eventually(() => on().length === WARM_DEPTH, 10000)
  return on()
}

/** The addresses leased on `root` to warm endpoints (their owner names a process), as `ip-<network>-<address>` keys. */
function warmLeases(root: string): string[] {
  const dir = `${root}/networks/leases`
  return fs.readdirSync(dir).filter((f) => f.startsWith('ip-') && fs.readFileSync(`${dir}/${f}`, 'utf8').startsWith('warm-'))
}

/** The lease key of `ip` on network `id` (lib/network/leases.ts ipKey). */
const leaseOf = (id: string, ip: string) => `ip-${id.slice(0, 16)}-${ip}`

/** The process's fd on the namespace whose eth0's peer is `hostVeth` ("" when none). */
function netnsFdOf(hostVeth: string): string {
  // Every warm namespace's eth0 has the same index in its namespace: match the host end's own.
  const hostIndex = execFileSync('cat', [`/sys/class/net/${hostVeth}/ifindex`]).toString().trim()
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    const path = `/proc/${process.pid}/fd/${fd}`
    try {
      if (!fs.readlinkSync(path).startsWith('net:[')) continue
      // /sys shows the namespace it was mounted in: ask ip.
      if (/eth0@if(\d+):/.exec(execFileSync('nsenter', [`--net=${path}`, 'ip', '-o', 'link', 'show', 'eth0']).toString())?.[1] === hostIndex) return path
    } catch {
      // not this one
    }
  }
  return ''
}

/** Open fds of this process on network namespaces. */
function netnsFds(): number {
  return fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith('net:[')
    } catch {
      return false
    }
  }).length
}

async function sh(c: Container, script: string): Promise<{ exitCode: number; stdout: string }> {
  const r = await c.exec(['sh', '-c', script])
  return { exitCode: r.exitCode, stdout: r.stdout.trim() }
}

describe('warm endpoints', () => {
  let runtime: Runtime
  let tag: string

  beforeAll(async () => {
    runtime = new Runtime({ root: makeRoot(), subnetPool: [bridgeNet.cidr] })
    tag = runtime.networks.names.tag
    await Image.fromHost({ runtime })
  })

  afterAll(async () => {
    for (const c of await Container.list({ runtime, all: true })) await c.remove({ force: true }).catch(() => {})
    await runtime.close()
    fs.rmSync(runtime.root, { recursive: true, force: true })
    expect(veths(tag)).toEqual([])
  })

  test("the next start takes the network's warm namespace, addressed ahead: eth0 has Docker's MAC, the next address and the route before the start, lo is up, no name before", async () => {
    const net = await Network.create('warm-a', { runtime, subnet: netA.cidr })
    const first = await run('host', ['sleep', '60'], { runtime, name: 'warm-first', network: 'warm-a' })
    const [warm] = await warmOn(runtime, (await net.inspect()).bridge)
    expect(warm).toBeDefined()
    // Kept, it is no container: no name, no container on the network; its address is leased ahead.
    expect(Object.keys((await net.inspect()).containers)).toEqual([first.id])
    expect((await sh(first, 'cat /etc/hosts')).stdout).not.toMatch(new RegExp(`${netA.host(3).replace(/\./g, '\\.')}\\s`))
    expect(warmLeases(runtime.root).sort()).toEqual([leaseOf(net.id, netA.host(3)), leaseOf(net.id, netA.host(4))])
    // Addressed ahead: what the start would otherwise ask the kernel for is there already.
    const ahead = execFileSync('nsenter', [`--net=${netnsFdOf(warm)}`, 'sh', '-c', 'ip -4 -o addr show eth0; ip route show default; ip -o link show eth0']).toString()
    expect(ahead).toContain('link/ether 02:42:' + netA.host(3).split('.').map((n) => Number(n).toString(16).padStart(2, '0')).join(':'))
    expect(ahead).toContain(`${netA.host(3)}/24`)
    expect(ahead).toContain(`default via ${netA.host(1)} dev eth0`)
    expect(ahead).toMatch(/eth0@\S+: <[^>]*\bUP\b/)
    // Tuned as a start's own pair is: hairpin on its bridge port, no IPv6 on eth0.
    expect(fs.readFileSync(`/sys/class/net/${warm}/brport/hairpin_mode`, 'utf8').trim()).toBe('1')
    expect(execFileSync('nsenter', [`--net=${netnsFdOf(warm)}`, 'cat', '/proc/sys/net/ipv6/conf/eth0/disable_ipv6']).toString().trim()).toBe('1')
    // eth0 was born so (the namespace's IPv6 default held off while the pair was made), and the default is back to a fresh namespace's.
    const ipv6Default = (...enter: string[]) => execFileSync(enter[0], [...enter.slice(1), 'cat', '/proc/sys/net/ipv6/conf/default/disable_ipv6']).toString().trim()
    expect(ipv6Default('nsenter', `--net=${netnsFdOf(warm)}`)).toBe(ipv6Default('unshare', '-n'))

    const second = await run('host', ['sleep', '60'], { runtime, name: 'warm-second', network: 'warm-a', aliases: ['second'] })
    // That very veth now carries the second container, whose lease the address now is.
    expect(warmLeases(runtime.root)).not.toContain(leaseOf(net.id, netA.host(3)))
    expect((await sh(second, 'cat /sys/class/net/eth0/iflink')).stdout).toBe(execFileSync('cat', [`/sys/class/net/${warm}/ifindex`]).toString().trim())
    const eth0 = await sh(second, 'cat /sys/class/net/eth0/address; ip -4 -o addr show eth0; ip route show default; ip -o link show lo')
    expect(eth0.stdout).toContain('02:42:' + netA.host(3).split('.').map((n) => Number(n).toString(16).padStart(2, '0')).join(':'))
    expect(eth0.stdout).toContain(`${netA.host(3)}/24`)
    expect(eth0.stdout).toContain(`default via ${netA.host(1)} dev eth0`)
    expect(eth0.stdout).toMatch(/lo: <LOOPBACK,UP,LOWER_UP>/)
    expect((await second.inspect()).networkSettings.macAddress).toBe(eth0.stdout.split('\n')[0])
    expect((await sh(first, 'ping -c1 -W2 second')).exitCode).toBe(0)
    // And a new one is kept beside the other for the next starts.
    expect((await warmOn(runtime, (await net.inspect()).bridge)).filter((l) => l !== warm)).toHaveLength(2)
    for (const c of [first, second]) await c.remove({ force: true })
    await net.remove()
  })

  test("a warm veth never carries another network's traffic, nor one whose bridge was made again", async () => {
    const a = await Network.create('warm-iso-a', { runtime, subnet: netB.cidr })
    const b = await Network.create('warm-iso-b', { runtime, subnet: netC.cidr })
    const onA = await run('host', ['sleep', '60'], { runtime, name: 'warm-iso-1', network: 'warm-iso-a' })
    const [warmA] = await warmOn(runtime, (await a.inspect()).bridge)
    // A start on b must not take a's warm endpoint.
    const onB = await run('host', ['sleep', '60'], { runtime, name: 'warm-iso-2', network: 'warm-iso-b' })
    expect(masterOf(warmA)).toBe((await a.inspect()).bridge)
    expect((await sh(onB, `ping -c1 -W2 ${netC.host(1)}`)).exitCode).toBe(0)
    expect((await sh(onB, `ping -c1 -W1 ${netB.host(2)}`)).exitCode).toBe(1)

    // a's bridge deleted behind the runtime's back (an admin, another process): its warm veth leaves it;
    // the next start on a makes its own endpoint on the bridge made again, and reaches its gateway.
    execFileSync('ip', ['link', 'del', (await a.inspect()).bridge])
    await onA.remove({ force: true })
    const again = await run('host', ['sleep', '60'], { runtime, name: 'warm-iso-3', network: 'warm-iso-a' })
    expect((await sh(again, `ping -c1 -W2 ${netB.host(1)}`)).exitCode).toBe(0)
    expect(veths(tag)).not.toContain(warmA)
    for (const c of [onB, again]) await c.remove({ force: true })
    await a.remove()
    await b.remove()
  })

  test('the next warm namespace is made once the start that took one is settled, not beside that start', async () => {
    const net = await Network.create('warm-later', { runtime, subnet: netD.cidr })
    const bridge = (await net.inspect()).bridge
    // The joined container's veth, and any kept warm (whose carrier shows off only after a link-watch delay).
    const onBridge = () => veths(tag).filter((l) => masterOf(l) === bridge)
    const id = `warmlater${Date.now()}`.padEnd(64, '0')
    const joined = await runtime.networks.join({ id, name: 'warm-later-1', hostname: 'warm-later-1' }, 'warm-later')
    try {
      // The start (the shim's child mounting, its report) is under way until startSettled: nothing made beside it.
      await new Promise((r) => setTimeout(r, 500))
      expect(onBridge()).toHaveLength(1)
      joined.startSettled()
      expect(await warmOn(runtime, bridge)).toHaveLength(WARM_DEPTH)
      expect(onBridge()).toHaveLength(1 + WARM_DEPTH)
    } finally {
      fs.closeSync(joined.netnsFd)
      await runtime.networks.release(id)
      await net.remove()
    }
  })

  test('a start takes an endpoint kept while the next one is being made: it never waits for the refill', async () => {
    const net = await Network.create('warm-beside', { runtime, subnet: netB.cidr })
    const bridge = (await net.inspect()).bridge
    const warm = (runtime.networks as unknown as { warm: WarmEndpoints }).warm
    const fill = warm.fill.bind(warm)
    let open!: () => void
    const gate = new Promise<void>((resolve) => (open = resolve))
    const started: Container[] = []
    try {
      started.push(await run('host', ['sleep', '60'], { runtime, name: 'warm-beside-1', network: 'warm-beside' }))
      const kept = await warmOn(runtime, bridge)
      // From here the refills stay under way (held before their first request) until the gate opens.
      warm.fill = (...args) => gate.then(() => fill(...args))
      for (const [i, ip] of [[2, netB.host(3)], [3, netB.host(4)]] as const) {
        const next = run('host', ['sleep', '60'], { runtime, name: `warm-beside-${i}`, network: 'warm-beside' })
        let timer: NodeJS.Timeout | undefined
        const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`start ${i} waited for the refill`)), 15000)))
        const c = await Promise.race([next, late]).finally(() => clearTimeout(timer))
        started.push(c)
        expect((await c.inspect()).networkSettings.networks['warm-beside'].ipAddress).toBe(ip)
        expect((await sh(c, 'cat /sys/class/net/eth0/iflink')).stdout).toBe(execFileSync('cat', [`/sys/class/net/${kept[i - 2]}/ifindex`]).toString().trim())
      }
      open()
      // Then the network has its two again, addressed next.
      expect(await warmOn(runtime, bridge)).toHaveLength(WARM_DEPTH)
      expect(warmLeases(runtime.root).filter((l) => l.startsWith(`ip-${net.id.slice(0, 16)}-`)).sort()).toEqual([leaseOf(net.id, netB.host(5)), leaseOf(net.id, netB.host(6))])
    } finally {
      open()
      warm.fill = fill
      for (const c of started) await c.remove({ force: true })
      await net.remove()
    }
  })

  test('a container connected to a network whose last free addresses are kept warm gets one: the warm endpoint gives it up', async () => {
    // A /29: .2 to .6 for containers; three run, the two left are kept warm.
    const net = await Network.create('warm-full', { runtime, subnet: `${netA.host(0)}/29` })
    const other = await Network.create('warm-full-other', { runtime, subnet: netC.cidr })
    const started: Container[] = []
    try {
      for (let i = 0; i < 3; i++) started.push(await run('host', ['sleep', '60'], { runtime, name: `warm-full-${i}`, network: 'warm-full' }))
      await warmOn(runtime, (await net.inspect()).bridge)
      expect(warmLeases(runtime.root).filter((l) => l.startsWith(`ip-${net.id.slice(0, 16)}-`)).sort()).toEqual([leaseOf(net.id, netA.host(5)), leaseOf(net.id, netA.host(6))])
      const late = await run('host', ['sleep', '60'], { runtime, name: 'warm-full-late', network: 'warm-full-other' })
      started.push(late)
      // Joined live (no warm endpoint taken): the lowest address kept warm is its.
      await net.connect(late)
      expect((await late.inspect()).networkSettings.networks['warm-full'].ipAddress).toBe(netA.host(5))
      expect((await sh(late, `ping -c1 -W2 ${netA.host(2)}`)).exitCode).toBe(0)
    } finally {
      for (const c of started) await c.remove({ force: true })
      await net.remove()
      await other.remove()
    }
  })

  test("a start that finds none kept while one is being made takes that one: Docker's next address, not the one after it", async () => {
    const net = await Network.create('warm-order', { runtime, subnet: netD.cidr })
    const warm = (runtime.networks as unknown as { warm: { opts: { host: () => Rtnl } } }).warm
    const host = warm.opts.host
    let open!: () => void
    const gate = new Promise<void>((resolve) => (open = resolve))
    const started: Container[] = []
    try {
      started.push(await run('host', ['sleep', '60'], { runtime, name: 'warm-order-0', network: 'warm-order' }))
      await warmOn(runtime, (await net.inspect()).bridge)
      // From here a warm pair is made only once the gate opens (its address leased already): the real
      // socket and calls, held before the pair's creation.
      warm.opts.host = () => {
        const rtnl = host()
        return new Proxy(rtnl, { get: (target, key) => (key === 'createVeth' ? async (...args: unknown[]) => (await gate, (target.createVeth as (...a: unknown[]) => unknown)(...args)) : Reflect.get(target, key)) })
      }
      // The two kept go to the next two starts; the refill leases .5 and waits at the gate.
      for (let i = 1; i <= 2; i++) started.push(await run('host', ['sleep', '60'], { runtime, name: `warm-order-${i}`, network: 'warm-order' }))
      setTimeout(open, 500)
      started.push(await run('host', ['sleep', '60'], { runtime, name: 'warm-order-3', network: 'warm-order' }))
      const ips = await Promise.all(started.map(async (c) => (await c.inspect()).networkSettings.networks['warm-order'].ipAddress))
      expect(ips).toEqual([2, 3, 4, 5].map((n) => netD.host(n)))
    } finally {
      open()
      warm.opts.host = host
      for (const c of started) await c.remove({ force: true })
      await net.remove()
    }
  })

  test("a network's removal takes its warm veth and namespace with it", async () => {
    const net = await Network.create('warm-rm', { runtime, subnet: netA.cidr })
    const fdsBefore = netnsFds()
    const c = await run('host', ['true'], { runtime, network: 'warm-rm', rm: true })
    await c.wait()
    const warm = await warmOn(runtime, (await net.inspect()).bridge)
    expect(warmLeases(runtime.root)).toEqual(warm.map(() => expect.stringMatching(new RegExp(`^ip-${net.id.slice(0, 16)}-`))))
    await net.remove()
    for (const link of warm) expect(veths(tag)).not.toContain(link)
    expect(netnsFds()).toBe(fdsBefore)
    expect(warmLeases(runtime.root)).toEqual([])
  })

  test('a warm address is taken for every runtime on the root: another runtime keeps its lease at its start (however old, its process runs) and gives its containers other addresses', async () => {
    const net = await Network.create('warm-shared', { runtime, subnet: netB.cidr })
    const first = await run('host', ['sleep', '60'], { runtime, name: 'warm-shared-1', network: 'warm-shared' })
    await warmOn(runtime, (await net.inspect()).bridge)
    const [lease, nextLease] = warmLeases(runtime.root).sort()
    expect([lease, nextLease]).toEqual([leaseOf(net.id, netB.host(3)), leaseOf(net.id, netB.host(4))])
    // Older than the minute after which a claim whose owner has no record counts as stale.
    const old = new Date(Date.now() - 5 * 60_000)
    for (const kept of [lease, nextLease]) fs.utimesSync(`${runtime.root}/networks/leases/${kept}`, old, old)
    const other = new Runtime({ root: runtime.root, subnetPool: [bridgeNet.cidr] })
    let onOther: Container | undefined
    let next: Container | undefined
    try {
      await other.ready()
      expect(warmLeases(runtime.root)).toEqual(expect.arrayContaining([lease, nextLease]))
      // Asked for by the other runtime, the warm address is refused naming the process that keeps it.
      const refused = run('host', ['true'], { runtime: other, name: 'warm-shared-static', network: 'warm-shared', ip: netB.host(3) })
      await expect(refused).rejects.toMatchObject({ code: 'EINUSE', message: expect.stringContaining(`runtime in process ${process.pid} on this root`) })
      onOther = await run('host', ['sleep', '60'], { runtime: other, name: 'warm-shared-2', network: 'warm-shared' })
      next = await run('host', ['sleep', '60'], { runtime, name: 'warm-shared-3', network: 'warm-shared' })
      const ips = await Promise.all([first, onOther, next].map(async (c) => (await c.inspect()).networkSettings.networks['warm-shared'].ipAddress))
      expect(ips[1]).not.toBe(netB.host(3))
      expect(ips[1]).not.toBe(netB.host(4))
      expect(new Set(ips).size).toBe(3)
      expect((await sh(next, `ping -c1 -W2 ${ips[1]}`)).exitCode).toBe(0)
    } finally {
      for (const c of [first, onOther, next]) await c?.remove({ force: true })
      for (const c of await Container.list({ runtime: other, all: true })) await c.remove({ force: true })
      // Removed here first: the other runtime's close removes the networks this process made, and this one's warm endpoint would stay.
      await net.remove()
      await other.close()
    }
    expect(warmLeases(runtime.root)).toEqual([])
  })

  test("when a container leaves, the highest warm endpoint moves ahead to the address it freed (Docker's order: the lowest free), and the next start takes it there", async () => {
    const net = await Network.create('warm-lower', { runtime, subnet: netD.cidr })
    const first = await run('host', ['sleep', '60'], { runtime, name: 'warm-lower-1', network: 'warm-lower' })
    const second = await run('host', ['sleep', '60'], { runtime, name: 'warm-lower-2', network: 'warm-lower' })
    const bridge = (await net.inspect()).bridge
    await eventually(() => warmLeases(runtime.root).includes(leaseOf(net.id, netD.host(5))), 10000)
    const [, warm] = await warmOn(runtime, bridge)
    // Both kept, not one still being made: which of them moves is then known (one being made is
    // lowered once it lands: the next test).
    await runtime.networks.warmSettled(net.id)
    await first.remove({ force: true })
    // Moved in place (the same veth and namespace), before any start asks.
    // (The new address is leased before the move, the old one given back after it.)
    expect(await eventually(() => warmLeases(runtime.root).sort().join() === [leaseOf(net.id, netD.host(2)), leaseOf(net.id, netD.host(4))].join(), 10000)).toBe(true)
    expect(runtime.networks.warmVeths()[0]).toBe(warm)
    const ahead = execFileSync('nsenter', [`--net=${netnsFdOf(warm)}`, 'sh', '-c', 'ip -4 -o addr show eth0; ip route show default; ip -o link show eth0']).toString()
    expect(ahead).toContain('link/ether 02:42:' + netD.host(2).split('.').map((n) => Number(n).toString(16).padStart(2, '0')).join(':'))
    expect(ahead).toContain(`${netD.host(2)}/24`)
    expect(ahead).not.toContain(netD.host(5))
    expect(ahead).toContain(`default via ${netD.host(1)} dev eth0`)
    const third = await run('host', ['sleep', '60'], { runtime, name: 'warm-lower-3', network: 'warm-lower' })
    expect((await third.inspect()).networkSettings.networks['warm-lower'].ipAddress).toBe(netD.host(2))
    expect((await sh(third, `ping -c1 -W2 warm-lower-2`)).exitCode).toBe(0)
    for (const c of [second, third]) await c.remove({ force: true })
    await net.remove()
  })

  test("a container that leaves while a warm endpoint is being made: that endpoint, once made, moves down to the lowest free address too (Docker's order)", async () => {
    const net = await Network.create('warm-race', { runtime, subnet: netF.cidr })
    const bridge = (await net.inspect()).bridge
    const warm = (runtime.networks as unknown as { warm: { opts: { host: () => Rtnl } } }).warm
    const host = warm.opts.host
    let open!: () => void
    const gate = new Promise<void>((resolve) => (open = resolve))
    const leased = () => warmLeases(runtime.root).filter((l) => l.startsWith(`ip-${net.id.slice(0, 16)}-`)).sort().join()
    const started: Container[] = []
    try {
      started.push(await run('host', ['sleep', '60'], { runtime, name: 'warm-race-1', network: 'warm-race' }))
      await warmOn(runtime, bridge)
      await runtime.networks.warmSettled(net.id)
      // From here a warm pair is made only once the gate opens (its address leased already): the real socket and calls.
      warm.opts.host = () => {
        const rtnl = host()
        return new Proxy(rtnl, { get: (target, key) => (key === 'createVeth' ? async (...args: unknown[]) => (await gate, (target.createVeth as (...a: unknown[]) => unknown)(...args)) : Reflect.get(target, key)) })
      }
      // It takes .3; the refill leases .5 and waits at the gate.
      started.push(await run('host', ['sleep', '60'], { runtime, name: 'warm-race-2', network: 'warm-race' }))
      expect(await eventually(() => leased() === [netF.host(4), netF.host(5)].map((ip) => leaseOf(net.id, ip)).join(), 10000)).toBe(true)
      // .2 comes free once its veth is gone: the kept .4 moves down to it, the one being made is not kept yet.
      await started.shift()!.remove({ force: true })
      expect(await eventually(() => leased() === [netF.host(2), netF.host(5)].map((ip) => leaseOf(net.id, ip)).join(), 10000)).toBe(true)
      open()
      // Made at .5, above the free .4: it moves there once kept.
      expect(await eventually(() => leased() === [netF.host(2), netF.host(4)].map((ip) => leaseOf(net.id, ip)).join(), 10000)).toBe(true)
      const next = await run('host', ['sleep', '60'], { runtime, name: 'warm-race-3', network: 'warm-race' })
      started.push(next)
      await runtime.networks.warmSettled(net.id)
      const after = await run('host', ['sleep', '60'], { runtime, name: 'warm-race-4', network: 'warm-race' })
      started.push(after)
      const ips = await Promise.all([next, after].map(async (c) => (await c.inspect()).networkSettings.networks['warm-race'].ipAddress))
      expect(ips).toEqual([netF.host(2), netF.host(4)])
    } finally {
      open()
      warm.opts.host = host
      for (const c of started) await c.remove({ force: true })
      await net.remove()
    }
  })

  test('a start that asks for the address kept warm gets it: the warm endpoint gives it up', async () => {
    const net = await Network.create('warm-static', { runtime, subnet: netC.cidr })
    const first = await run('host', ['sleep', '60'], { runtime, name: 'warm-static-1', network: 'warm-static' })
    await warmOn(runtime, (await net.inspect()).bridge)
    expect(warmLeases(runtime.root).sort()).toEqual([leaseOf(net.id, netC.host(3)), leaseOf(net.id, netC.host(4))])
    const fixed = await run('host', ['sleep', '60'], { runtime, name: 'warm-static-2', network: 'warm-static', ip: netC.host(3) })
    expect((await fixed.inspect()).networkSettings.networks['warm-static'].ipAddress).toBe(netC.host(3))
    expect((await sh(fixed, `ip -4 -o addr show eth0; ping -c1 -W2 ${netC.host(2)}`)).stdout).toContain(`${netC.host(3)}/24`)
    for (const c of [first, fixed]) await c.remove({ force: true })
    await net.remove()
  })

  test("a warm veth that another runtime on the same root collected is not taken: the next start makes its own", async () => {
    const c = await run('host', ['true'], { runtime, network: 'bridge', rm: true })
    await c.wait()
    const bridge = runtime.networks.names.defaultBridge
    const warm = await warmOn(runtime, bridge)
    // Collecting leftovers at its start, it finds veths no record accounts for, and deletes them.
    const other = new Runtime({ root: runtime.root, subnetPool: [bridgeNet.cidr] })
    await other.ready()
    await other.networks.close()
    for (const link of warm) expect(veths(tag)).not.toContain(link)
    const next = await run('host', ['sleep', '60'], { runtime, network: 'bridge' })
    expect((await sh(next, `ping -c1 -W2 ${bridgeNet.host(1)}`)).exitCode).toBe(0)
    await next.remove({ force: true })
  })
})

test('Runtime.close() leaves no warm veth, namespace or fd', async () => {
  const runtime = new Runtime({ root: makeRoot(), subnetPool: [bridgeNet.cidr] })
  const tag = runtime.networks.names.tag
  try {
    await Image.fromHost({ runtime })
    const fdsBefore = netnsFds()
    const net = await Network.create('warm-close', { runtime, subnet: netA.cidr })
    for (const network of ['bridge', 'warm-close']) await (await run('host', ['true'], { runtime, network, rm: true })).wait()
    expect(await warmOn(runtime, (await net.inspect()).bridge)).toHaveLength(WARM_DEPTH)
    expect(await warmOn(runtime, runtime.networks.names.defaultBridge)).toHaveLength(WARM_DEPTH)
    expect(warmLeases(runtime.root)).toHaveLength(2 * WARM_DEPTH)
    await runtime.close()
    expect(veths(tag)).toEqual([])
    expect(netnsFds()).toBe(fdsBefore)
    expect(warmLeases(runtime.root)).toEqual([])
  } finally {
    await runtime.close()
    fs.rmSync(runtime.root, { recursive: true, force: true })
  }
})

test('Runtime.close() with a container still running gives its warm addresses back; the container keeps its own', async () => {
  const root = makeRoot()
  const runtime = new Runtime({ root, subnetPool: [bridgeNet.cidr] })
  try {
    await Image.fromHost({ runtime })
    const net = await Network.create('warm-close-running', { runtime, subnet: netB.cidr })
    // Detached: it outlives the close (which kills the others), and with it the networks.
    await run('host', ['sleep', '60'], { runtime, network: 'warm-close-running', detach: true })
    await warmOn(runtime, (await net.inspect()).bridge)
    expect(warmLeases(root).sort()).toEqual([leaseOf(net.id, netB.host(3)), leaseOf(net.id, netB.host(4))])
    // A container runs on: nothing is destroyed, the warm endpoints are closed.
    await runtime.close()
    expect(warmLeases(root)).toEqual([])
    expect(fs.readdirSync(`${root}/networks/leases`)).toContain(leaseOf(net.id, netB.host(2)))
  } finally {
    const again = new Runtime({ root, subnetPool: [bridgeNet.cidr] })
    for (const c of await Container.list({ runtime: again, all: true })) await c.remove({ force: true })
    await again.close()
    fs.rmSync(root, { recursive: true, force: true })
  }
})

test("Runtime.close() gives a warm address back only once its veth left the bridge: another runtime on the root that takes it at once never has the old pair's MAC beside its own", async () => {
  const root = makeRoot()
  const runtime = new Runtime({ root, subnetPool: [bridgeNet.cidr] })
  let other: Runtime | undefined
  try {
    await Image.fromHost({ runtime })
    const net = await Network.create('warm-close-gone', { runtime, subnet: netE.cidr })
    const bridge = (await net.inspect()).bridge
    // Detached: it outlives the close, and with it the network.
    await run('host', ['sleep', '60'], { runtime, network: 'warm-close-gone', detach: true })
    const warm = await warmOn(runtime, bridge)
    other = new Runtime({ root, subnetPool: [bridgeNet.cidr] })
    await runtime.close()
    // What the lease says once close() returned: each warm address is free, so each old pair must be gone.
    expect(warmLeases(root)).toEqual([])
    expect(warm.filter((v) => fs.existsSync(`/sys/class/net/${v}`))).toEqual([])
    // The other runtime takes the first of them at once: its bridge holds one port with that MAC.
    const c = await run('host', ['sleep', '60'], { runtime: other, network: 'warm-close-gone', detach: true })
    expect((await c.inspect()).networkSettings.networks['warm-close-gone'].ipAddress).toBe(netE.host(3))
    const fdb = execFileSync('bridge', ['fdb', 'show', 'br', bridge]).toString()
    const mac = (await c.inspect()).networkSettings.networks['warm-close-gone'].macAddress
    expect(fdb.split('\n').filter((l) => l.startsWith(`${mac} `) && !l.includes('permanent') && !l.includes('self')).length).toBeLessThanOrEqual(1)
  } finally {
    const again = other ?? new Runtime({ root, subnetPool: [bridgeNet.cidr] })
    for (const c of await Container.list({ runtime: again, all: true })) await c.remove({ force: true })
    await (await Network.get('warm-close-gone', { runtime: again }).catch(() => undefined))?.remove()
    await again.close()
    fs.rmSync(root, { recursive: true, force: true })
  }
})

/** This process's rtnetlink socket fds. */
function routeSockets(): number[] {
  return fs.readdirSync('/proc/self/fd').map(Number).filter((fd) => netlinkPortOf(fd, 0 /* NETLINK_ROUTE */) !== null)
}

test('closing the network service (Runtime.close() with containers running) while a warm endpoint is being made leaves no rtnetlink socket open', async () => {
  const runtime = new Runtime({ root: makeRoot(), subnetPool: [bridgeNet.cidr] })
  const tag = runtime.networks.names.tag
  try {
    await Image.fromHost({ runtime })
    const socketsBefore = routeSockets().length
    // The close lands inside the refill after this start, while it waits for its namespace's socket (the
    // timing hook only orders the real calls: the fill, the close and the sockets are the real ones).
    const warm = (runtime.networks as unknown as { warm: WarmEndpoints }).warm
    const fill = warm.fill.bind(warm)
    let filled: Promise<void> | undefined
    let closed: Promise<void> | undefined
    warm.fill = (...args) => {
      filled = fill(...args)
      // What Runtime.close() does while containers still run (it destroys nothing then): the sockets close at once.
      closed = runtime.networks.close()
      return filled
    }
    await (await run('host', ['true'], { runtime, network: 'bridge', rm: true })).wait()
    await eventually(() => filled !== undefined, 10000)
    // Once the fill has ended and close() has returned (it closes the sockets a few turns after the fill's end).
    await filled
    await closed
    expect(routeSockets().length).toBe(socketsBefore)
    // The kernel takes a closed namespace's pairs away in the background.
    expect(await eventually(() => veths(tag).length === 0, 5000)).toBe(true)
  } finally {
    await runtime.close()
    fs.rmSync(runtime.root, { recursive: true, force: true })
  }
})

test("the owner's SIGKILL takes its warm veths with it", async () => {
  const root = makeRoot()
  const tag = runtimeTag(root)
  const owner = spawnNode(
    `const { Runtime, Image, run } = lib()
    ;(async () => {
      const runtime = new Runtime({ root: ${JSON.stringify(root)}, subnetPool: [${JSON.stringify(ownerNet.cidr)}] })
      await Image.fromHost({ runtime })
      await (await run('host', ['true'], { runtime, network: 'bridge', rm: true })).wait()
      console.log('ready')
      setInterval(() => {}, 1000)
    })().catch((e) => { console.error(e); process.exit(1) })`,
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('owner did not start its container')), 90000)
      owner.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && (clearTimeout(timer), resolve()))
      owner.once('exit', (code) => reject(new Error(`owner exited with ${code}`)))
    })
    expect(await eventually(() => warmLeases(root).length === WARM_DEPTH, 10000)).toBe(true)
    expect(veths(tag).filter((l) => masterOf(l) === netNames(tag).defaultBridge).length).toBeGreaterThan(0)
  } finally {
    owner.kill('SIGKILL')
  }
  await new Promise((r) => owner.once('exit', r))
  try {
    expect(await eventually(() => veths(tag).length === 0, 5000)).toBe(true)
    // Its warm address is no one's: the next runtime on the root frees it at its start (no wait for the lease to age).
    const next = new Runtime({ root, subnetPool: [ownerNet.cidr] })
    await next.ready()
    expect(warmLeases(root)).toEqual([])
    await next.networks.close()
  } finally {
    // What the crash left (the default bridge and its rules) goes with the next runtime's close.
    const runtime = new Runtime({ root, subnetPool: [ownerNet.cidr] })
    await runtime.ready()
    await runtime.close()
    fs.rmSync(root, { recursive: true, force: true })
  }
  expect(hostLinks(`mc${tag}`)).toEqual([])
})

test("a dead owner's warm address stays leased while its veth is still there, and the collection after the veth went frees it", async () => {
  const root = makeRoot()
  // Stands in for a pair the kernel has not removed yet when another runtime collects (an owner killed while
  // making it, after the collection deleted the leftovers it found): a veth by the name the lease records.
  const veth = `mct${randomBytes(4).toString('hex')}`
  const deadPid = spawnSync('true').pid
  const dir = `${root}/networks/leases`
  const key = leaseOf('d'.repeat(64), '10.255.0.2')
  execFileSync('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}p`])
  try {
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(`${dir}/${key}`, `warm-${deadPid}-1-0123456789ab@${veth}`)
    const first = new Runtime({ root })
    await first.ready()
    // Before: freed at once, for a start to give the address (and its MAC) while the old pair was on the bridge.
    expect(warmLeases(root)).toEqual([key])
    await first.close()
    execFileSync('ip', ['link', 'del', veth])
    const second = new Runtime({ root })
    await second.ready()
    expect(warmLeases(root)).toEqual([])
    await second.close()
  } finally {
    if (hostLinks(veth).length) execFileSync('ip', ['link', 'del', veth])
    fs.rmSync(root, { recursive: true, force: true })
  }
})
