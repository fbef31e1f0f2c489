/**
 * minicontainer beside a running Docker engine (issue 8, part 1): a private
 * dockerd in its own network namespace (test/tools/docker-engine.ts) sets
 * FORWARD policy DROP, its DOCKER-* chains and br_netfilter there, and
 * minicontainer runs in that same namespace (a child node process,
 * test/tools/netns-agent.ts). Everything the network layer offers must
 * still work, Docker's own containers too, and Docker's policies and rules
 * must be exactly as before once minicontainer's networks are gone.
 *
 * Traffic stays inside the engine's namespace and a test namespace
 * ("outside") linked to it. Subnets, claimed per run (test/net-helpers.ts;
 * the library's subnet claims are host-wide files, shared across
 * namespaces): the default bridge's, two user networks', and a /30 of the
 * fourth for the link to "outside".
 */
import { execFileSync } from 'node:child_process'
import { dockerImportBusybox, startPrivateDocker, type PrivateDocker } from '../tools/docker-engine'
import { startNetnsAgent, type NetnsAgent } from '../tools/netns-agent'
import { ipPattern, useSubnets } from '../net-helpers'
import { TestNetns } from './helpers'

const [bridgeNet, netA, netB, linkNet] = useSubnets(4)
let engine: PrivateDocker
let agent: NetnsAgent
let outside: TestNetns
let dockerRulesBefore: string[]

/** A command in the engine's network namespace (the "host" of this test); stdout. */
function inEngine(cmd: string[]): string {
  return execFileSync('nsenter', [`--net=${engine.netns}`, '--', ...cmd], { timeout: 15000 }).toString()
}

/** `iptables -S` lines (all chains of table filter) in the engine's namespace. */
function iptablesRules(): string[] {
  return inEngine(['iptables', '-S']).trim().split('\n')
}

/** Runs agent code; `rt` is the test runtime. */
function mc<T = unknown>(code: string): Promise<T> {
  return agent.eval<T>(`const rt = ctx.rt; ${code}`)
}

/** Exit code of a command in a container of the test runtime. */
function execIn(container: string, cmd: string[]): Promise<number> {
  return mc<number>(`return (await mc.Container.get(${JSON.stringify(container)}, { runtime: rt })).exec(${JSON.stringify(cmd)}).then((r) => r.exitCode)`)
}

/** stdout of a command in a container of the test runtime. */
function outputOf(container: string, cmd: string[]): Promise<string> {
  return mc<string>(`return (await mc.Container.get(${JSON.stringify(container)}, { runtime: rt })).exec(${JSON.stringify(cmd)}).then((r) => r.stdout.trim())`)
}

const ping = (from: string, to: string) => execIn(from, ['ping', '-c', '1', '-W', '2', to])

/** A host-image container running `cmd` (default: sleep), on `network`. */
function start(name: string, network: string, extra = '', cmd = ['sleep', '300']): Promise<string> {
  return mc<string>(`const c = await mc.run('host', ${JSON.stringify(cmd)}, { runtime: rt, name: ${JSON.stringify(name)}, network: ${JSON.stringify(network)} ${extra} }); return (await c.inspect()).networkSettings.ipAddress`)
}

beforeAll(async () => {
  engine = await startPrivateDocker()
  await dockerImportBusybox(engine, 'mc-bb:coexist')
  dockerRulesBefore = iptablesRules()
  // "outside": a namespace beyond the engine's host, reached through a veth, answering TCP with the peer's address.
  outside = new TestNetns()
  execFileSync('nsenter', [`--net=${outside.path}`, '--', 'ip', 'link', 'add', 'out0', 'type', 'veth', 'peer', 'name', 'mcxup0', 'netns', String(engine.pid)])
  outside.run(['ip', 'addr', 'add', `${linkNet.host(2)}/30`, 'dev', 'out0'])
  outside.run(['ip', 'link', 'set', 'out0', 'up'])
  inEngine(['ip', 'addr', 'add', `${linkNet.host(1)}/30`, 'dev', 'mcxup0'])
  inEngine(['ip', 'link', 'set', 'mcxup0', 'up'])
  await outside.serve('tcp', 7000, 'outside')
  agent = await startNetnsAgent(engine.netns)
  await agent.eval(`
    const fs = require('node:fs'), os = require('node:os'), path = require('node:path')
    ctx.rt = new mc.Runtime({ root: fs.mkdtempSync(path.join(os.tmpdir(), 'mc-coexist-')), subnetPool: ['${bridgeNet.cidr}'] })
    await mc.Image.fromHost({ runtime: ctx.rt })
    await mc.Network.create('coexist-a', { runtime: ctx.rt, subnet: '${netA.cidr}' })
    await mc.Network.create('coexist-b', { runtime: ctx.rt, subnet: '${netB.cidr}' })`)
}, 400000)

afterAll(async () => {
  if (agent) {
    await agent
      .eval(`
        for (const c of await mc.Container.list({ runtime: ctx.rt, all: true })) await c.remove({ force: true })
        await ctx.rt.close()
        require('node:fs').rmSync(ctx.rt.root, { recursive: true, force: true })`)
      .finally(() => agent.stop())
  }
  outside?.close()
  await engine?.stop()
}, 120000)

test("Docker's firewall is in place in the namespace: FORWARD policy DROP, DOCKER-USER, br_netfilter on", () => {
  expect(dockerRulesBefore).toContain('-P FORWARD DROP')
  expect(dockerRulesBefore).toContain('-N DOCKER-USER')
  expect(inEngine(['cat', '/proc/sys/net/bridge/bridge-nf-call-iptables']).trim()).toBe('1')
})

test('containers on the default bridge ping each other by IP', async () => {
  const ipA = await start('dk-def-a', 'bridge')
  await start('dk-def-b', 'bridge')
  expect(ipA).toMatch(new RegExp(`^${ipPattern(bridgeNet.stem)}`))
  expect(await ping('dk-def-b', ipA)).toBe(0)
})

test('accept rules for our bridges sit in DOCKER-USER, as iptables -S prints them, ahead of its RETURN', async () => {
  const bridge = await mc<string>(`return (await mc.Network.get('bridge', { runtime: rt }).then((n) => n.inspect())).bridge`)
  const userChain = iptablesRules().filter((l) => l.startsWith('-A DOCKER-USER'))
  expect(userChain).toContain(`-A DOCKER-USER -i ${bridge} -m comment --comment "minicontainer:${bridge}" -j ACCEPT`)
  expect(userChain).toContain(`-A DOCKER-USER -o ${bridge} -m comment --comment "minicontainer:${bridge}" -j ACCEPT`)
  expect(userChain[userChain.length - 1]).toBe('-A DOCKER-USER -j RETURN')
  // Docker's own rules and policies are untouched: only our lines were added.
  expect(iptablesRules().filter((l) => !l.includes('minicontainer:'))).toEqual(dockerRulesBefore)
})

test('a user network: ping by name and by alias', async () => {
  await start('dk-a1', 'coexist-a', ", aliases: ['dk-alias']")
  await start('dk-a2', 'coexist-a')
  expect(await ping('dk-a2', 'dk-a1')).toBe(0)
  expect(await ping('dk-a2', 'dk-alias')).toBe(0)
})

test('isolation between networks is still enforced; connect opens the way, disconnect closes it', async () => {
  const ipB = await start('dk-b1', 'coexist-b')
  expect(await ping('dk-a2', ipB)).not.toBe(0)
  await mc(`await (await mc.Network.get('coexist-b', { runtime: rt })).connect(await mc.Container.get('dk-a2', { runtime: rt }))`)
  expect(await ping('dk-a2', 'dk-b1')).toBe(0)
  await mc(`await (await mc.Network.get('coexist-b', { runtime: rt })).disconnect(await mc.Container.get('dk-a2', { runtime: rt }))`)
  expect(await ping('dk-a2', ipB)).not.toBe(0)
})

test('outbound NAT: a container reaches the outside namespace, seen from the host address', async () => {
  expect(await outputOf('dk-a1', ['nc', '-w', '3', linkNet.host(2), '7000'])).toBe(`outside ${linkNet.host(1)}`)
  expect(await outputOf('dk-def-a', ['nc', '-w', '3', linkNet.host(2), '7000'])).toBe(`outside ${linkNet.host(1)}`)
})

test('published ports answer on 127.0.0.1 and on the gateway, and through the hairpin', async () => {
  const hp = 18480 + Math.floor(Math.random() * 500)
  const server = `require('http').createServer((q, s) => s.end('hello ' + q.socket.remoteAddress.replace('::ffff:', ''))).listen(80)`
  await start('dk-web', 'coexist-a', `, ports: ['${hp}:80']`, ['node', '-e', server])
  const fetch = (host: string) => {
    for (let i = 0; i < 30; i++) {
      try {
        return execFileSync('nsenter', [`--net=${engine.netns}`, '--', 'curl', '-sS', '--max-time', '2', `http://${host}:${hp}/`], { stdio: ['ignore', 'pipe', 'ignore'] }).toString()
      } catch {
        execFileSync('sleep', ['0.2'])
      }
    }
    return ''
  }
  expect(fetch('127.0.0.1')).toMatch(/^hello /)
  expect(fetch(netA.host(1))).toMatch(/^hello /)
  // Hairpin: a container on the same bridge, and the server itself, through the gateway's published port.
  expect(await outputOf('dk-a1', ['curl', '-sS', '--max-time', '3', `http://${netA.host(1)}:${hp}/`])).toMatch(/^hello /)
  expect(await outputOf('dk-web', ['curl', '-sS', '--max-time', '3', `http://${netA.host(1)}:${hp}/`])).toMatch(/^hello /)
})

test("Docker's containers on docker0 still reach each other", async () => {
  const a = await engine.ok(['run', '-d', 'mc-bb:coexist', 'sleep', '60'])
  try {
    const ip = await engine.ok(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', a])
    const r = await engine.run(['run', '--rm', 'mc-bb:coexist', 'ping', '-c', '1', '-W', '2', ip])
    expect(r.code).toBe(0)
  } finally {
    await engine.run(['rm', '-f', a])
  }
})

test("closing the runtime removes every accept rule and leaves Docker's chains exactly as they were", async () => {
  await mc(`
    for (const c of await mc.Container.list({ runtime: rt, all: true })) await c.remove({ force: true })
    await rt.close()`)
  expect(iptablesRules()).toEqual(dockerRulesBefore)
  expect(inEngine(['nft', 'list', 'tables'])).not.toContain('minicontainer_')
})
