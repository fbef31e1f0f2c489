/**
 * Rootless networks (issue 19), as ordinary users the test makes: the
 * keeper holds the runtime's network namespace inside its user namespace
 * (lo up, nothing else, not the host's); user networks live there, where
 * containers reach each other by name, with nothing on the host's links or
 * nf_tables; without a subordinate range a network is EUNSUPPORTED saying
 * why; close() leaves nothing running.
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as net from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'
import { keepersLine } from '../tools/keepers'
import { makeUnprivilegedUser, makeUserDirs, pidsOf, type UnprivilegedUser, type UserDirs } from '../tools/unprivileged-user'

/** A script run as the user: `rt` (a rootless runtime), `keepers()`, `step(name, f)`, and `out` printed as JSON at the end. */
function script(body: string): string {
  return `;(async () => {
  const { Runtime, Network, Image, run } = lib()
  const fs = require('node:fs')
  const logs = (c) => new Promise((res, rej) => { let s = ''; c.logs().on('data', (d) => (s += d)).on('end', () => res(s)).on('error', rej) })
  // Host sockets listening on these ports (ss, an observer), as "address:port".
  const listening = (ports) => require('node:child_process').execFileSync('ss', ['-Hltn'], { encoding: 'utf8' }).split('\\n')
    .map((l) => l.trim().split(/\\s+/)[3]).filter((a) => a && ports.includes(a.split(':').pop())).sort()
  const echo = (port, host = '127.0.0.1') => new Promise((resolve, reject) => {
    const s = require('node:net').connect(port, host, () => s.end('ping\\n'))
    let got = ''
    s.on('data', (d) => (got += d)).on('end', () => resolve(got)).on('error', reject)
  })
  // Binds a TCP listener on ip:port and closes it: 'bound', or the bind's error code.
  const bindOnce = (ip, port) => new Promise((resolve) => {
    const srv = require('node:net').createServer().once('error', (e) => resolve(e.code))
    srv.listen(port, ip, () => srv.close(() => resolve('bound')))
  })
  const eventually = async (f) => { for (let i = 0; ; i++) { try { return await f() } catch (e) { if (i > 50) throw e; await new Promise((r) => setTimeout(r, 100)) } } }
  ${keepersLine}
  const out = {}
  const warnings = []
  process.on('warning', (w) => warnings.push({ code: w.code, message: w.message }))
  const step = async (name, f) => { try { out[name] = await f() } catch (e) { out[name] = { code: e.code, message: e.message } } }
  const rt = new Runtime()
  try {
    ${body}
  } finally {
    await rt.close()
  }
  out.warnings = warnings
  console.log(JSON.stringify(out))
})()`
}

function asUser(user: UnprivilegedUser, home: string, body: string): Record<string, any> {
  const r = user.node(script(body), [], { HOME: home })
  if (r.status !== 0) throw new Error(`the user's script failed (${r.status}): ${r.stderr}`)
  return JSON.parse(r.stdout)
}

describe('rootless networks and published ports, as an ordinary user with a subordinate range', () => {
  let user: UnprivilegedUser
  let home: string
  let images: string
  let dirs: UserDirs
  beforeAll(() => {
    user = makeUnprivilegedUser()
    dirs = makeUserDirs(user, 'mc-rl-net')
    ;({ home, images } = dirs)
  })
  afterAll(() => {
    dirs.remove()
    user.remove()
  })

  test("the keeper holds the runtime's network namespace, in its user namespace, with lo up and nothing else", () => {
    const out = asUser(
      user,
      home,
      `const ns = rt.userIds.networkNamespace('test')
    out.again = rt.userIds.networkNamespace('test')
    out.ns = ns
    out.keepers = keepers()
    out.netns = fs.readlinkSync(ns.netnsPath)
    out.userns = fs.readlinkSync(ns.usernsPath)
    out.ownNetns = fs.readlinkSync('/proc/self/ns/net')
    out.ownUserns = fs.readlinkSync('/proc/self/ns/user')
    const { openNetnsNetlink } = lib('network/netns-sockets')
    const nl = await openNetnsNetlink(ns.netnsPath)
    out.links = (await nl.rtnl.links()).map((l) => [l.name, l.up])
    nl.close()`,
    )
    expect(out.keepers).toHaveLength(1)
    expect(out.ns).toEqual({ netnsPath: `/proc/${out.keepers[0]}/ns/net`, usernsPath: `/proc/${out.keepers[0]}/ns/user` })
    expect(out.again).toEqual(out.ns)
    expect(out.netns).not.toBe(out.ownNetns)
    expect(out.userns).not.toBe(out.ownUserns)
    expect(out.links).toEqual([['lo', true]])
    expect(pidsOf(user.uid)).toEqual([])
  })

  test('egress: a helper (pasta, or slirp4netns before Debian 12\'s pasta) is attached to the keeper\'s namespace when the user may open /dev/net/tun, else one MINICONTAINER_NO_EGRESS warning says why at once; close() ends the helper', () => {
    const out = asUser(
      user,
      home,
      `const t = Date.now()
    const n = await Network.create('e1', { runtime: rt })
    out.ms = Date.now() - t
    const { openNetnsNetlink } = lib('network/netns-sockets')
    const nl = await openNetnsNetlink(rt.userIds.networkNamespace('test').netnsPath)
    out.links = (await nl.rtnl.links()).map((l) => l.name)
    nl.close()
    await n.remove()`,
    )
    const othersMayOpen = (fs.statSync('/dev/net/tun').mode & 0o006) === 0o006
    if (othersMayOpen) {
      expect(out.links).toContain('tap0')
      expect(out.warnings).toEqual([])
    } else {
      expect(out.links).not.toContain('tap0')
      expect(out.warnings).toEqual([{ code: 'MINICONTAINER_NO_EGRESS', message: expect.stringContaining('/dev/net/tun cannot be opened by this user (EACCES') }])
      expect(out.ms).toBeLessThan(3000)
    }
    // Nothing of the user's runs after close(): no keeper, no relay, no egress helper.
    expect(pidsOf(user.uid)).toEqual([])
  })

  test("two containers on a user network reach each other by name; its bridge, veths and rules are in the runtime's namespace, none on the host's", async () => {
    const go = path.join(home, 'go')
    const child = user.spawnNode(
      script(`await Image.import(${JSON.stringify(path.join(images, 'bb'))}, { runtime: rt, ref: 'bb:latest' })
    const net = await Network.create('n1', { runtime: rt })
    const a = await run('bb', ['sleep', '60'], { runtime: rt, name: 'rl-a', network: 'n1' })
    const b = await run('bb', ['sh', '-c', 'ping -c1 -W3 rl-a >/dev/null && echo pinged; ip -o -4 addr show eth0 | grep -o "inet [0-9./]*"'], { runtime: rt, name: 'rl-b', network: net })
    out.b = { exit: await b.wait(), logs: await logs(b) }
    out.aIp = (await a.inspect()).networkSettings.networks.n1.ipAddress
    const { openNetnsNetlink } = lib('network/netns-sockets')
    const nl = await openNetnsNetlink(rt.userIds.networkNamespace('test').netnsPath)
    out.keeperLinks = (await nl.rtnl.links()).map((l) => l.name)
    nl.close()
    out.names = { table: rt.networks.names.table, bridgePrefix: rt.networks.names.bridgePrefix, vethPrefix: rt.networks.names.vethPrefix }
    console.log(JSON.stringify({ names: out.names }))
    while (!fs.existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 50))
    await a.remove({ force: true })
    await b.remove()
    await net.remove()`),
      { HOME: home },
    )
    let stdout = ''
    let stderr = ''
    child.stderr!.on('data', (d) => (stderr += d))
    const ended = new Promise<number | null>((resolve) => child.on('exit', resolve))
    const names = await new Promise<{ table: string; bridgePrefix: string; vethPrefix: string }>((resolve, reject) => {
      child.stdout!.on('data', (d) => {
        stdout += d
        const first = stdout.split('\n')[0]!
        if (stdout.includes('\n')) resolve(JSON.parse(first).names)
      })
      child.on('exit', (code) => reject(new Error(`the user's script ended (${code}) before its containers ran: ${stderr}`)))
    })
    // While the containers run: the host's links and rules (observed as root) hold nothing of the runtime's.
    const hostLinks = execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' })
    const ruleset = execFileSync('nft', ['list', 'ruleset'], { encoding: 'utf8' })
    fs.writeFileSync(go, '')
    expect(await ended).toBe(0)
    const out = JSON.parse(stdout.trim().split('\n').pop()!)
    expect(out.b.exit).toEqual({ exitCode: 0 })
    expect(out.b.logs).toMatch(/^pinged\ninet (\d+\.){3}\d+\/\d+\n$/)
    expect(out.aIp).toMatch(/^(\d+\.){3}\d+$/)
    expect(out.keeperLinks.filter((l: string) => l.startsWith(names.bridgePrefix))).toHaveLength(1)
    expect(out.keeperLinks.filter((l: string) => l.startsWith(names.vethPrefix)).length).toBeGreaterThanOrEqual(1)
    expect(hostLinks).not.toContain(names.bridgePrefix)
    expect(hostLinks).not.toContain(names.vethPrefix)
    expect(ruleset).not.toContain(names.table)
    expect(pidsOf(user.uid)).toEqual([])
  })

  test("network: 'container:<name>' joins that container's network namespace: its address, and its loopback listener; a stopped one is ENOTRUNNING", () => {
    const out = asUser(
      user,
      home,
      `await Image.import(${JSON.stringify(path.join(images, 'bb'))}, { runtime: rt, ref: 'bb:latest' })
    const a = await run('bb', ['nc', '-ll', '-p', '7000', '-e', 'echo', 'from-a'], { runtime: rt, name: 'rl-owner' })
    out.aIp = (await a.inspect()).networkSettings.networks.bridge.ipAddress
    await step('b', async () => {
      const b = await run('bb', ['sh', '-c', 'ip -o -4 addr show eth0 | grep -o "inet [0-9.]*"; for i in 1 2 3 4 5 6 7 8 9 10; do nc 127.0.0.1 7000 </dev/null && break; sleep 0.1; done'], { runtime: rt, network: 'container:rl-owner' })
      const exit = await b.wait()
      const text = await logs(b)
      await b.remove()
      return { exit, logs: text }
    })
    out.aLogs = await logs(a)
    await a.stop({ timeout: 1 })
    await step('stopped', () => run('bb', ['true'], { runtime: rt, network: 'container:rl-owner' }))
    await a.remove()`,
    )
    expect(out.aIp).toMatch(/^(\d+\.){3}\d+$/)
    expect(out.aLogs).toBe('')
    expect(out.b).toEqual({ exit: { exitCode: 0 }, logs: `inet ${out.aIp}\nfrom-a\n` })
    expect(out.stopped.code).toBe('ENOTRUNNING')
    expect(pidsOf(user.uid)).toEqual([])
  })

  test("exposeHostPorts: a server on the user's loopback is reached as host.minicontainer.internal and host.docker.internal from the default bridge and a user network; closed by default and once the container is gone", () => {
    const out = asUser(
      user,
      home,
      `await Image.import(${JSON.stringify(path.join(images, 'bb'))}, { runtime: rt, ref: 'bb:latest' })
    // The app under test, on the user's 127.0.0.1 only.
    const app = require('node:net').createServer((s) => s.end('hello from the app\\n'))
    await new Promise((res) => app.listen(0, '127.0.0.1', res))
    const port = app.address().port
    const read = async (c, host) => (await c.exec(['sh', '-c', 'nc -w 3 ' + host + ' ' + port + ' </dev/null 2>&1'])).stdout
    const net = await Network.create('rl-expose', { runtime: rt })
    out.reads = []
    for (const network of ['bridge', 'rl-expose']) {
      const other = await run('bb', ['sleep', '60'], { runtime: rt, network })
      const gateway = (await other.inspect()).networkSettings.networks[network].gateway
      out.reads.push(await read(other, gateway))
      const c = await run('bb', ['sleep', '60'], { runtime: rt, network, exposeHostPorts: [port] })
      out.reads.push(await read(c, 'host.minicontainer.internal'), await read(c, 'host.docker.internal'))
      await c.remove({ force: true })
      out.reads.push(await read(other, gateway))
      await other.remove({ force: true })
    }
    await net.remove()
    app.close()`,
    )
    const closed = expect.not.stringContaining('hello')
    const open = 'hello from the app\n'
    expect(out.reads).toEqual([closed, open, open, closed, closed, open, open, closed])
    expect(pidsOf(user.uid)).toEqual([])
  })

  test("exposeHostPorts' input rule, two networks: a container of network A that asked reaches the app at A's gateway, one of B that did not cannot through it; and the other way round", () => {
    const out = asUser(
      user,
      home,
      `await Image.import(${JSON.stringify(path.join(images, 'bb'))}, { runtime: rt, ref: 'bb:latest' })
    const app = require('node:net').createServer((s) => s.end('hello from the app\\n'))
    await new Promise((res) => app.listen(0, '127.0.0.1', res))
    const port = app.address().port
    const read = async (c, host) => (await c.exec(['sh', '-c', 'nc -w 3 ' + host + ' ' + port + ' </dev/null 2>&1'])).stdout
    const gatewayOf = async (c, network) => (await c.inspect()).networkSettings.networks[network].gateway
    const a = await Network.create('rl-exp-a', { runtime: rt })
    const b = await Network.create('rl-exp-b', { runtime: rt })
    out.reads = {}
    for (const [asking, other] of [['rl-exp-a', 'rl-exp-b'], ['rl-exp-b', 'rl-exp-a']]) {
      const c = await run('bb', ['sleep', '60'], { runtime: rt, network: asking, exposeHostPorts: [port] })
      const d = await run('bb', ['sleep', '60'], { runtime: rt, network: other })
      const gateway = await gatewayOf(c, asking)
      out.reads[asking] = { asking: await read(c, gateway), otherNetwork: await read(d, gateway), otherOwnGateway: await read(d, await gatewayOf(d, other)) }
      await c.remove({ force: true })
      await d.remove({ force: true })
    }
    await a.remove()
    await b.remove()
    app.close()`,
    )
    const refused = expect.not.stringContaining('hello')
    const reads = { asking: 'hello from the app\n', otherNetwork: refused, otherOwnGateway: refused }
    expect(out.reads).toEqual({ 'rl-exp-a': reads, 'rl-exp-b': reads })
    expect(pidsOf(user.uid)).toEqual([])
  })

  test("ports: ['7000'] on the default bridge is reached from the host's 127.0.0.1 and ::1 (0.0.0.0 and [::], as Docker's proxy), '[::1]::7000' on ::1 alone, through a relay, which ends when the container stops", () => {
    const out = asUser(
      user,
      home,
      `await Image.import(${JSON.stringify(path.join(images, 'bb'))}, { runtime: rt, ref: 'bb:latest' })
    const c = await run('bb', ['nc', '-ll', '-p', '7000', '-e', 'cat'], { runtime: rt, ports: ['7000', '127.0.0.1::7000/tcp', '[::1]::7000'] })
    out.port = c.port(7000)
    out.mapped = c.mappedPort(7000)
    out.bindings = (await c.inspect()).networkSettings.ports['7000/tcp']
    const on = (ip) => Number(out.bindings.find((b) => b.hostIp === ip).hostPort)
    out.listening = listening([...new Set(out.bindings.map((b) => b.hostPort))])
    out.echo = await eventually(() => echo(out.mapped))
    out.echo6 = await eventually(() => echo(out.mapped, '::1'))
    out.echoLoopbackOnly = await eventually(() => echo(on('127.0.0.1')))
    out.echoIpv6LoopbackOnly = await eventually(() => echo(on('::1'), '::1'))
    await step('ipv6LoopbackOnIpv4', () => echo(on('::1')).then(() => 'relayed', (e) => e.code))
    await c.stop({ timeout: 1 })
    // stop() resolves once the relays ended (the container's network is released as it exits): the ports are free at once.
    out.listeningAfterStop = listening([...new Set(out.bindings.map((b) => b.hostPort))])
    // One after the other: a dual-stack bind of :: and one of 0.0.0.0 on the same port at once would clash with each other.
    out.rebound = []
    for (const b of out.bindings) out.rebound.push(await bindOnce(b.hostIp, Number(b.hostPort)))
    await step('afterStop', () => echo(out.mapped).then(() => 'still relayed', (e) => e.code))
    await c.remove()`,
    )
    expect(out.port).toEqual({ hostIp: '0.0.0.0', hostPort: String(out.mapped) })
    expect(out.mapped).toBeGreaterThan(1024)
    // As Docker 20.10 lists them: a port on every address on 0.0.0.0 and :: (the host has IPv6 here), then the others.
    expect(out.bindings).toEqual([
      { hostIp: '0.0.0.0', hostPort: String(out.mapped) },
      { hostIp: '::', hostPort: String(out.mapped) },
      { hostIp: '127.0.0.1', hostPort: expect.stringMatching(/^\d+$/) },
      { hostIp: '::1', hostPort: expect.stringMatching(/^\d+$/) },
    ])
    const [every, , loopback, loopback6] = out.bindings.map((b: { hostPort: string }) => b.hostPort)
    expect(out.listening).toEqual([`0.0.0.0:${every}`, `127.0.0.1:${loopback}`, `[::1]:${loopback6}`, `[::]:${every}`].sort())
    expect(out.echo).toBe('ping\n')
    expect(out.echo6).toBe('ping\n')
    expect(out.echoLoopbackOnly).toBe('ping\n')
    expect(out.echoIpv6LoopbackOnly).toBe('ping\n')
    expect(out.ipv6LoopbackOnIpv4).toBe(loopback6 === loopback ? 'relayed' : 'ECONNREFUSED') // two ephemeral picks on different addresses may match
    expect(out.listeningAfterStop).toEqual([])
    expect(out.rebound).toEqual(['bound', 'bound', 'bound', 'bound'])
    expect(out.afterStop).toBe('ECONNREFUSED')
    expect(pidsOf(user.uid)).toEqual([])
  })

  test("a keeper killed from outside after networks were made is not replaced: the next run is ECLOSED saying to reopen the runtime; close() works, a new runtime runs", () => {
    const out = asUser(
      user,
      home,
      `await Image.import(${JSON.stringify(path.join(images, 'bb'))}, { runtime: rt, ref: 'bb:latest' })
    const first = await run('bb', ['true'], { runtime: rt, rm: true })
    await first.wait()
    const [keeper] = keepers()
    process.kill(keeper, 'SIGKILL')
    // Dead: a zombie, or already reaped by the runtime (its stat gone).
    const dead = () => { try { return /^\\d+ \\(.*\\) Z/.test(fs.readFileSync('/proc/' + keeper + '/stat', 'utf8')) } catch { return true } }
    while (!dead()) await new Promise((r) => setTimeout(r, 10))
    await step('onNetwork', () => run('bb', ['true'], { runtime: rt }))
    await step('none', () => run('bb', ['true'], { runtime: rt, network: 'none' }))
    out.keepersAfter = keepers().length
    await rt.close()
    const again = new Runtime()
    try {
      const c = await run('bb', ['true'], { runtime: again, rm: true })
      out.again = await c.wait()
    } finally {
      await again.close()
    }`,
    )
    for (const refused of [out.onNetwork, out.none]) {
      expect(refused.code).toBe('ECLOSED')
      expect(refused.message).toMatch(/keeper \(pid \d+\) ended from outside.*open a new Runtime\(\) to go on/)
    }
    expect(out.keepersAfter).toBe(0)
    expect(out.again).toEqual({ exitCode: 0 })
    expect(pidsOf(user.uid)).toEqual([])
  })

  test("the owner's SIGKILL leaves nothing: no keeper, relay, shim or container runs as the user, and the published port is closed", async () => {
    const owner = user.spawnNode(
      `;(async () => {
  const { Runtime, Image, Network, run } = lib()
  const rt = new Runtime()
  await Image.import(${JSON.stringify(path.join(images, 'bb'))}, { runtime: rt, ref: 'bb:latest' })
  await Network.create('k1', { runtime: rt })
  const c = await run('bb', ['nc', '-ll', '-p', '7000', '-e', 'cat'], { runtime: rt, network: 'k1', ports: ['127.0.0.1::7000'] })
  console.log(JSON.stringify({ node: process.pid, port: c.mappedPort(7000) }))
  setInterval(() => {}, 1000) // the owner lives until it is killed
})()`,
      { HOME: home },
    )
    const started = await new Promise<{ node: number; port: number }>((resolve, reject) => {
      let text = ''
      owner.stdout!.on('data', (d: Buffer) => {
        text += d
        if (text.includes('\n')) resolve(JSON.parse(text.split('\n')[0]!))
      })
      owner.once('exit', (code) => reject(new Error(`the owner ended (${code}) before its container started`)))
    })
    const echo = () =>
      new Promise<string>((resolve, reject) => {
        const s = net.connect(started.port, '127.0.0.1', () => s.end('ping\n'))
        let got = ''
        s.on('data', (d) => (got += d)).on('end', () => resolve(got)).on('error', reject)
      })
    let answer = ''
    for (let i = 0; i < 50 && answer !== 'ping\n'; i++) answer = await echo().catch(() => new Promise<string>((r) => setTimeout(() => r(''), 100)))
    expect(answer).toBe('ping\n')
    process.kill(started.node, 'SIGKILL')
    const deadline = Date.now() + 5000
    while (pidsOf(user.uid).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    expect(pidsOf(user.uid)).toEqual([])
    await expect(echo()).rejects.toMatchObject({ code: 'ECONNREFUSED' })
  })
})

describe('rootless networks, as an ordinary user without a subordinate range', () => {
  let user: UnprivilegedUser
  let home: string
  beforeAll(() => {
    user = makeUnprivilegedUser({ subids: false })
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rl-net1-'))
    fs.chownSync(home, user.uid, user.gid)
  })
  afterAll(() => {
    for (const dir of [home, `/tmp/minicontainer-${user.uid}`]) fs.rmSync(dir, { recursive: true, force: true })
    user.remove()
  })

  test('a network is EUNSUPPORTED naming the missing subordinate range and the fix; no keeper is left', () => {
    const out = asUser(user, home, `await step('create', () => Network.create('n1', { runtime: rt }))`)
    expect(out.create.code).toBe('EUNSUPPORTED')
    expect(out.create.message).toMatch(/cannot use networks in a rootless runtime: rootless networks need a subordinate id range \(.*\); add one with .*usermod --add-subuids/)
    expect(pidsOf(user.uid)).toEqual([])
  })
})
