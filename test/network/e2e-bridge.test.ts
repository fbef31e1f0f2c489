/**
 * End to end with real containers (host image): the default bridge, user
 * networks with name resolution, isolation, live connect/disconnect and
 * published ports reached from the host. Traffic goes only to 127.0.0.1,
 * our gateways and our containers. Subnets are claimed per run
 * (test/net-helpers.ts): one for the default bridge, one per user network.
 *
 * Negative name lookups use `getent -s files` so nothing ever asks a DNS server.
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as net from 'node:net'
import { Container, run, Wait, type Runtime } from '../../lib'
import { Network } from '../../lib/network/network'
import { hostHasIpv6, pickFreePort } from '../../lib/network/port-probe'
import { ipPattern, macOf, useSubnets } from '../net-helpers'
import { text } from '../helpers'
import { nodeOutput, spawnNode } from '../tools/node-child'
import { hostLinks, hostVethOf, onEveryAddress, useBridgeRuntime, v6Listeners } from './helpers'

let runtime: Runtime
const [bridgeNet, userNet, otherNet, restartNet, homeNet, extraNet] = useSubnets(6)

/** A long-running container on `network` (default bridge). */
function sleeper(name: string, network = 'bridge', extra: Record<string, unknown> = {}): Promise<Container> {
  return run('host', ['sleep', '60'], { runtime, name, network, ...extra })
}

async function sh(c: Container, script: string): Promise<{ exitCode: number; stdout: string }> {
  const r = await c.exec(['sh', '-c', script])
  return { exitCode: r.exitCode, stdout: r.stdout.trim() }
}

/** Polls an HTTP URL on the host with curl (bounded); returns the body or "". */
function curl(url: string): string {
  for (let i = 0; i < 30; i++) {
    try {
      return execFileSync('curl', ['-sSg', '--max-time', '2', url], { stdio: ['ignore', 'pipe', 'ignore'] }).toString()
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') throw err // the tool is missing: fail, never ''
      execFileSync('sleep', ['0.2'])
    }
  }
  return ''
}

useBridgeRuntime(bridgeNet.cidr, (r) => (runtime = r))

describe('containers on networks', () => {
  test('two containers on the default bridge get .2 and .3 and ping each other by IP, not by name', async () => {
    const a = await sleeper('e2e-a')
    const b = await sleeper('e2e-b')
    expect((await sh(a, 'ip -4 -o addr show eth0')).stdout).toContain(`inet ${bridgeNet.host(2)}/24`)
    expect((await sh(b, 'ip -4 -o addr show eth0')).stdout).toContain(`inet ${bridgeNet.host(3)}/24`)
    expect((await sh(a, 'ip route')).stdout).toContain(`default via ${bridgeNet.host(1)} dev eth0`)
    expect((await sh(a, `ping -c1 -W2 ${bridgeNet.host(3)}`)).exitCode).toBe(0)
    expect((await sh(b, `ping -c1 -W2 ${bridgeNet.host(2)}`)).exitCode).toBe(0)
    expect((await sh(a, 'getent -s files hosts e2e-b')).exitCode).toBe(2) // not found, as opposed to 127: no getent
    // Legacy links give a name on the default bridge.
    const c = await sleeper('e2e-c', 'bridge', { links: ['e2e-a:web'] })
    expect((await sh(c, 'getent -s files hosts web')).stdout).toMatch(new RegExp(`^${ipPattern(bridgeNet.host(2))}\\s+web\\s+e2e-a`))
    expect((await sh(c, 'ping -c1 -W2 web')).exitCode).toBe(0)
    await expect(sleeper('e2e-d', 'bridge', { links: ['nonesuch:x'] })).rejects.toMatchObject({ code: 'EINVALID' })
    await expect(sleeper('e2e-d', 'bridge', { ports: [8080] })).rejects.toMatchObject({ code: 'EINVALID' })
    await expect(sleeper('e2e-d', 'bridge', { ports: ['80:80:80:80'] })).rejects.toMatchObject({ code: 'EINVALID' })
    await expect(sleeper('e2e-d', 'nonesuch')).rejects.toMatchObject({ code: 'ENONETWORK' })
    await c.remove({ force: true })
    await a.remove({ force: true })
    await b.remove({ force: true })
  })

  test("the bridge has a MAC of its own, from its gateway's address, that veths coming and going leave alone: a container's neighbour entry for the gateway outlives the other containers (issue 19)", async () => {
    const gateway = bridgeNet.host(1)
    const bridgeMac = (): string => {
      const line = execFileSync('ip', ['-o', '-4', 'addr', 'show']).toString().split('\n').find((l) => l.includes(` inet ${gateway}/`))
      const name = line?.split(/\s+/)[1] ?? ''
      return /link\/ether (\S+)/.exec(execFileSync('ip', ['-o', 'link', 'show', name]).toString())?.[1] ?? `no bridge has ${gateway}`
    }
    // The kernel lends a bridge whose MAC was never set the lowest of its ports' (random ones here); that
    // MAC left with its port, and a container still sending to it was not heard (dropped as for another host).
    const before = await sleeper('mac-before')
    const staying = await sleeper('mac-staying')
    expect(bridgeMac()).toBe(macOf(gateway))
    expect((await sh(staying, `ping -c1 -W2 ${gateway} >/dev/null && ip neigh show ${gateway}`)).stdout).toContain(`lladdr ${macOf(gateway)}`)
    await before.remove({ force: true })
    const after = await sleeper('mac-after')
    await after.remove({ force: true })
    expect(bridgeMac()).toBe(macOf(gateway))
    // The entry it has (not re-resolved: still REACHABLE, or STALE and used as it is) still reaches the gateway.
    expect(await sh(staying, `ping -c1 -W2 ${gateway} >/dev/null && ip neigh show ${gateway}`)).toEqual({ exitCode: 0, stdout: expect.stringContaining(`lladdr ${macOf(gateway)}`) })
    await staying.remove({ force: true })
  })

  test('user network: peers resolve by name and alias; isolation from other networks; live connect/disconnect', async () => {
    const net = await Network.create('e2e-net', { runtime, subnet: userNet.cidr })
    const other = await Network.create('e2e-other', { runtime, subnet: otherNet.cidr })
    const web = await sleeper('e2e-web', 'e2e-net')
    const db = await sleeper('e2e-db', 'e2e-net', { aliases: ['db'] })
    const lone = await sleeper('e2e-lone', 'e2e-other')
    expect((await sh(web, 'getent -s files hosts db')).stdout).toMatch(new RegExp(`^${ipPattern(userNet.host(3))}\\s`))
    expect((await sh(web, 'ping -c1 -W2 e2e-db')).exitCode).toBe(0)
    expect((await sh(db, 'ping -c1 -W2 e2e-web')).exitCode).toBe(0)
    expect((await net.inspect()).containers[web.id]).toMatchObject({ name: 'e2e-web', ipAddress: userNet.host(2) })

    // Isolation: e2e-lone (.2 of e2e-other) is unreachable from e2e-net...
    expect((await sh(web, `ping -c1 -W1 ${otherNet.host(2)}`)).exitCode).toBe(1) // no reply
    // ...until web joins its network live, as eth1, and everyone there learns its name.
    await other.connect('e2e-web', { aliases: ['frontend'] })
    expect((await sh(web, 'ip -4 -o addr show eth1')).stdout).toContain(`${otherNet.host(3)}/24`)
    expect((await sh(web, 'ping -c1 -W2 e2e-lone')).exitCode).toBe(0)
    expect((await sh(lone, 'ping -c1 -W2 frontend')).exitCode).toBe(0)
    await other.disconnect(web)
    expect((await sh(web, 'ip -o link')).stdout).not.toContain('eth1')
    expect((await sh(lone, 'getent -s files hosts frontend')).exitCode).toBe(2)

    await expect(net.remove()).rejects.toMatchObject({ code: 'EINUSE' })
    for (const c of [web, db, lone]) await c.remove({ force: true })
    await net.remove()
    await other.remove()
    expect((await Network.list({ runtime })).map((n) => n.name)).not.toContain('e2e-net')
  })

  test('a name follows its container across a restart on a user network', async () => {
    await Network.create('e2e-restart', { runtime, subnet: restartNet.cidr })
    const client = await sleeper('e2e-client', 'e2e-restart')
    const server = await sleeper('e2e-server', 'e2e-restart')
    expect((await sh(client, 'getent -s files hosts e2e-server')).stdout).toMatch(new RegExp(`^${ipPattern(restartNet.host(3))}\\s`))
    await server.stop({ timeout: 0 })
    const filler = await sleeper('e2e-filler', 'e2e-restart') // takes .3
    await server.start()
    // Which free address the restart gets is the pool's (a warm endpoint may hold the next one ahead):
    // the name must follow it, and never point at the filler that took the old one.
    const moved = (await server.inspect()).networkSettings.networks['e2e-restart']!.ipAddress
    expect(moved).not.toBe(restartNet.host(3))
    expect((await filler.inspect()).networkSettings.networks['e2e-restart']!.ipAddress).toBe(restartNet.host(3))
    expect((await sh(client, 'getent -s files hosts e2e-server')).stdout).toMatch(new RegExp(`^${ipPattern(moved)}\\s`))
    expect((await sh(client, 'ping -c1 -W2 e2e-server')).exitCode).toBe(0)
    for (const c of [client, server, filler]) await c.remove({ force: true })
    await (await Network.get('e2e-restart', { runtime })).remove()
  })

  test('a network joined with connect() is joined again after stop() + start(), as in Docker; disconnect while stopped forgets it', async () => {
    const home = await Network.create('e2e-home', { runtime, subnet: homeNet.cidr })
    const extra = await Network.create('e2e-extra', { runtime, subnet: extraNet.cidr })
    const c = await sleeper('e2e-roamer', 'e2e-home')
    const peer = await sleeper('e2e-peer', 'e2e-extra')
    await extra.connect(c, { aliases: ['roamer-alias'] })
    await c.stop({ timeout: 0 })
    await c.start()
    expect((await sh(c, 'ip -4 -o addr show eth1')).stdout).toContain(`inet ${extraNet.stem}`)
    expect(Object.keys((await c.inspect()).networkSettings.networks).sort()).toEqual(['e2e-extra', 'e2e-home'])
    expect((await sh(peer, 'ping -c1 -W2 roamer-alias')).exitCode).toBe(0)
    expect((await sh(c, 'ping -c1 -W2 e2e-peer')).exitCode).toBe(0)
    await c.stop({ timeout: 0 })
    await extra.disconnect(c)
    await c.start()
    expect((await sh(c, 'ip -o link')).stdout).not.toContain('eth1')
    expect(Object.keys((await c.inspect()).networkSettings.networks)).toEqual(['e2e-home'])
    for (const x of [c, peer]) await x.remove({ force: true })
    await home.remove()
    await extra.remove()
  })

  test('connect() of a created container: it joins at start, before its program runs (its first command sees eth1 and the peer)', async () => {
    const home = await Network.create('e2e-home2', { runtime, subnet: homeNet.cidr })
    const extra = await Network.create('e2e-extra2', { runtime, subnet: extraNet.cidr })
    const peer = await sleeper('e2e-peer2', 'e2e-extra2')
    const c = await Container.create('host', ['sh', '-c', 'ip -4 -o addr show eth1; grep -c e2e-peer2 /etc/hosts; exec sleep 1000'], { runtime, name: 'e2e-early', network: 'e2e-home2' })
    expect(await extra.connect(c, { aliases: ['early-alias'] })).toBeUndefined()
    await expect(extra.connect(c)).rejects.toMatchObject({ code: 'ENAMECONFLICT' })
    await c.start()
    let out = ''
    for (let i = 0; i < 100 && !/\d\n$/.test(out); i++, await new Promise((r) => setTimeout(r, 50))) out = await text(c.logs({ stderr: false }))
    expect(out).toMatch(new RegExp(`inet ${extraNet.stem}[\\s\\S]*\\n1\\n$`))
    expect((await sh(peer, 'ping -c1 -W2 early-alias')).exitCode).toBe(0)
    const none = await Container.create('host', ['true'], { runtime, network: 'none' })
    await expect(extra.connect(none)).rejects.toMatchObject({ code: 'EINVALID' })
    for (const x of [c, peer, none]) await x.remove({ force: true })
    await home.remove()
    await extra.remove()
  })

  test('published port: an HTTP server in a container is reached with curl on 127.0.0.1 and the gateway', async () => {
    const hp = (await pickFreePort('tcp', '', () => false))!
    const server = "require('http').createServer((q,r)=>r.end('hello from '+q.socket.remoteAddress+'\\n')).listen(80,'0.0.0.0')"
    const c = await run('host', ['node', '-e', server], { runtime, name: 'e2e-http', network: 'bridge', ports: [`${hp}:80`] })
    expect(curl(`http://127.0.0.1:${hp}/`)).toBe(`hello from ${bridgeNet.host(1)}\n`)
    expect(curl(`http://${bridgeNet.host(1)}:${hp}/`)).toBe(`hello from ${bridgeNet.host(1)}\n`)
    await c.remove({ force: true })
  })

  test('port conflicts between containers are EPORTINUSE at start and leave nothing; stopping frees the port', async () => {
    const hp = (await pickFreePort('tcp', '', () => false))!
    const first = await sleeper('e2e-p1', 'bridge', { ports: [`${hp}:80`, `${hp}:53/udp`] })
    await expect(sleeper('e2e-p2', 'bridge', { ports: [`127.0.0.1:${hp}:80`] })).rejects.toMatchObject({ code: 'EPORTINUSE' })
    await expect(Container.get('e2e-p2', { runtime })).rejects.toMatchObject({ code: 'ENOCONTAINER' })
    const svc = runtime.networks
    const rules = () => execFileSync('nft', ['list', 'table', 'ip', svc.names.table]).toString()
    expect(rules()).toContain(`udp dport ${hp}`)
    await first.stop({ timeout: 0 })
    for (let i = 0; i < 50 && rules().includes(`dport ${hp}`); i++) await new Promise((r) => setTimeout(r, 100))
    expect(rules()).not.toContain(`dport ${hp}`)
    const second = await sleeper('e2e-p3', 'bridge', { ports: [`${hp}:80`] })
    await second.remove({ force: true })
    await first.remove({ force: true })
  })

  test("an rm: true container's network is released after its wait() resolved, yet before a start made at once after it: that start gets the same host port, and only its own rule and record are left", async () => {
    const hp = (await pickFreePort('tcp', '', () => false))!
    const svc = runtime.networks
    const first = await run('host', ['true'], { runtime, name: 'e2e-rm-first', network: 'bridge', ports: [`${hp}:80`], rm: true })
    await first.wait()
    const second = await sleeper('e2e-rm-second', 'bridge', { ports: [`${hp}:80`] })
    try {
      expect((await second.inspect()).networkSettings.ports['80/tcp']).toEqual(onEveryAddress(hp))
      const names = Object.values((await svc.get('bridge')).containers).map((c) => c.name)
      expect(names).toContain('e2e-rm-second')
      expect(names).not.toContain('e2e-rm-first')
      const table = execFileSync('nft', ['list', 'table', 'ip', svc.names.table]).toString()
      const dnats = table.split('\n').filter((l) => l.includes(`tcp dport ${hp} `) && l.includes('dnat'))
      expect(dnats.length).toBeGreaterThan(0)
      expect(dnats.filter((l) => !l.includes(`"ctr:${second.id}"`))).toEqual([])
    } finally {
      await second.remove({ force: true })
    }
  })

  test("a port on every address of a container stopped (not removed) by another process on the root while the publishing one is frozen: its [::] side is free when that stop resolves", async () => {
    // The [::] side is a relay, a child of the publishing process: that process's release of the exit
    // ended it, so while it was busy (here SIGSTOPped) the port stayed held. It now ends with the veth.
    expect(hostHasIpv6()).toBe(true)
    const hp = (await pickFreePort('tcp', '', () => false))!
    const publisher = spawnNode(
      `;(async () => {
        const { Runtime, run } = lib()
        const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)}, subnetPool: [${JSON.stringify(bridgeNet.cidr)}] })
        await run('host', ['sleep', '60'], { runtime, name: 'e2e-v6stop', network: 'bridge', ports: ['${hp}:80'], detach: true })
        await runtime.close()
        console.log('ready')
        setInterval(() => {}, 1000)
      })().catch((e) => { console.error(e); process.exit(1) })`,
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    const exited = new Promise((r) => publisher.once('exit', r))
    try {
      await new Promise<void>((resolve, reject) => {
        publisher.stdout!.on('data', (d) => String(d).includes('ready') && resolve())
        publisher.once('exit', (code) => reject(new Error(`the publishing process ended first (${code})`)))
      })
      expect(v6Listeners(hp)).toEqual([`[::]:${hp}`])
      publisher.kill('SIGSTOP')
      const first = await Container.get('e2e-v6stop', { runtime })
      await first.stop({ timeout: 0 })
      expect(v6Listeners(hp)).toEqual([])
      const second = await sleeper('e2e-v6next', 'bridge', { ports: [`${hp}:80`] })
      expect(v6Listeners(hp)).toEqual([`[::]:${hp}`])
      await second.remove({ force: true })
      await first.remove({ force: true })
    } finally {
      publisher.kill('SIGKILL')
      publisher.kill('SIGCONT')
      await exited
    }
    expect(v6Listeners(hp)).toEqual([])
  })

  test("a detached container's port on every address keeps its [::] side after the publishing process exited, as its IPv4 rule stays; removing the container frees [::]:port", async () => {
    // The [::] side is a relay the publishing process spawned: it ended with that process's exit.
    expect(hostHasIpv6()).toBe(true)
    const hp = (await pickFreePort('tcp', '', () => false))!
    const server = "require('http').createServer((q,r)=>r.end('kept\\n')).listen(80,'0.0.0.0')"
    const out = nodeOutput(`;(async () => {
        const { Runtime, run } = lib()
        const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)}, subnetPool: [${JSON.stringify(bridgeNet.cidr)}] })
        await run('host', ['node', '-e', ${JSON.stringify(server)}], { runtime, name: 'e2e-v6kept', network: 'bridge', ports: ['${hp}:80'], detach: true })
        await runtime.close()
        console.log('published')
      })().catch((e) => { console.error(e); process.exit(1) })`)
    expect(out.trim()).toBe('published')
    const c = await Container.get('e2e-v6kept', { runtime })
    try {
      expect(curl(`http://127.0.0.1:${hp}/`)).toBe('kept\n')
      expect(curl(`http://[::1]:${hp}/`)).toBe('kept\n')
      expect(v6Listeners(hp)).toEqual([`[::]:${hp}`])
    } finally {
      await c.remove({ force: true })
    }
    expect(v6Listeners(hp)).toEqual([])
  })

  test("a client of [::1] connecting the moment run() resolved is served: the [::] relay's start is off the start's path, and run() still awaits it", async () => {
    const hp = (await pickFreePort('tcp', '', () => false))!
    const c = await run('host', ['redis-server', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], { runtime, name: 'e2e-v6ready', network: 'bridge', ports: [`${hp}:6379`], waitFor: Wait.forListeningPorts() })
    try {
      const reply = await new Promise<string>((resolve, reject) => {
        const s = net.connect(hp, '::1', () => s.write('PING\r\n'))
        s.once('data', (d) => (s.end(), resolve(String(d))))
        s.once('error', reject)
      })
      expect(reply).toBe('+PONG\r\n')
    } finally {
      await c.remove({ force: true })
    }
  })

  test('a start that fails after networking was set up leaves no rules or leases', async () => {
    const hp = (await pickFreePort('tcp', '', () => false))!
    await expect(run('host', ['/nonexistent-program'], { runtime, name: 'e2e-fail', network: 'bridge', ports: [`${hp}:80`] })).rejects.toMatchObject({ code: 'ESTART' })
    const svc = runtime.networks
    expect(execFileSync('nft', ['list', 'table', 'ip', svc.names.table]).toString()).not.toContain(`dport ${hp}`)
    expect(Object.values((await svc.get('bridge')).containers).map((c) => c.name)).not.toContain('e2e-fail')
  })

  test("a dead container's veth still being torn down holds back neither the next start, nor gives it its address", async () => {
    const prefix = runtime.networks.names.vethPrefix
    const first = await sleeper('e2e-held')
    const { networkSettings, state } = await first.inspect()
    const veth = hostVethOf(state.pid)
    // Its namespace held open keeps its veth after its exit (as the kernel's slow cleanup of a dead namespace does).
    const held = fs.openSync(`/proc/${state.pid}/ns/net`, 'r')
    let second: Container | undefined
    try {
      await first.kill('SIGKILL')
      await first.wait()
      second = await sleeper('e2e-after-held')
      expect(veth).toBeDefined()
      expect(hostLinks(prefix)).toContain(veth)
      expect((await second.inspect()).networkSettings.ipAddress).not.toBe(networkSettings.ipAddress)
    } finally {
      fs.closeSync(held)
    }
    await first.remove()
    expect(hostLinks(prefix)).not.toContain(veth)
    await second.remove({ force: true })
  })

  test('container: mode shares the network stack, localhost included', async () => {
    const server = "require('net').createServer(s=>s.end('shared\\n')).listen(8080,'127.0.0.1')"
    const a = await run('host', ['node', '-e', server], { runtime, name: 'e2e-owner', network: 'bridge' })
    const b = await run('host', ['sleep', '60'], { runtime, name: 'e2e-guest', network: 'container:e2e-owner' })
    const ipA = (await sh(a, 'ip -4 -o addr show eth0')).stdout
    expect((await sh(b, 'ip -4 -o addr show eth0')).stdout).toBe(ipA)
    let got = ''
    for (let i = 0; i < 30 && got !== 'shared'; i++) got = (await sh(b, 'nc -w1 127.0.0.1 8080 </dev/null')).stdout
    expect(got).toBe('shared')
    // When the owner stops, its interfaces go with it and the guest keeps only lo (as in Docker).
    await a.stop({ timeout: 0 })
    let links = ''
    for (let i = 0; i < 50 && /eth0/.test((links = (await sh(b, 'ip -o link')).stdout)); i++) await new Promise((r) => setTimeout(r, 100))
    expect(links).not.toContain('eth0')
    expect(links).toContain('lo')
    await b.remove({ force: true })
    await a.remove({ force: true })
  })

  test('redis-server from the host image, published with -p, answers redis-cli on 127.0.0.1', async () => {
    if (!fs.existsSync('/usr/bin/redis-server')) throw new Error('redis-server is not installed (apt-get install redis-server redis-tools)')
    const hp = (await pickFreePort('tcp', '', () => false))!
    const c = await run('host', ['redis-server', '--port', '6379', '--bind', '0.0.0.0', '--protected-mode', 'no', '--save', '', '--appendonly', 'no'], { runtime, name: 'e2e-redis', network: 'bridge', ports: [`${hp}:6379`] })
    const cli = (...args: string[]) => execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(hp), ...args], { timeout: 5000 }).toString().trim()
    let pong = ''
    for (let i = 0; i < 30 && pong !== 'PONG'; i++) {
      try {
        pong = cli('ping')
      } catch {
        execFileSync('sleep', ['0.2'])
      }
    }
    expect(pong).toBe('PONG')
    expect(cli('set', 'greeting', 'hello')).toBe('OK')
    expect(cli('get', 'greeting')).toBe('hello')
    await c.remove({ force: true })
  })
})
