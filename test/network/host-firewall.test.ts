/**
 * Host firewalls other than Docker's (issue 8, part 1), each in a test
 * network namespace with minicontainer running inside it
 * (test/tools/netns-agent.ts):
 * - an nftables `inet filter` forward chain with `policy drop` (Debian's
 *   /etc/nftables.conf shape) gets our accept rules, removed at close;
 * - an iptables-legacy FORWARD chain, which we cannot write to, gives a
 *   clear EFIREWALL error and leaves nothing behind.
 *
 * One subnet per namespace, claimed per run (test/net-helpers.ts): the
 * claims are host-wide files, shared across namespaces. Traffic stays in
 * the namespaces.
 */
import { execFileSync } from 'node:child_process'
import { startNetnsAgent, type NetnsAgent } from '../tools/netns-agent'
import { useSubnets } from '../net-helpers'
import { TestNetns } from './helpers'

const [nftPool, legacyPool] = useSubnets(2)

const newRuntime = (pool: string) => `
  const fs = require('node:fs'), os = require('node:os'), path = require('node:path')
  ctx.rt = new mc.Runtime({ root: fs.mkdtempSync(path.join(os.tmpdir(), 'mc-hostfw-')), subnetPool: ['${pool}'] })
  await mc.Image.fromHost({ runtime: ctx.rt })`

const closeRuntime = `
  for (const c of await mc.Container.list({ runtime: ctx.rt, all: true })) await c.remove({ force: true })
  await ctx.rt.close()
  require('node:fs').rmSync(ctx.rt.root, { recursive: true, force: true })`

/** For the enclosing describe: a test namespace with `firewall` set up in it and an agent there with a runtime on `pool`. */
function useFirewalledNetns(firewall: string[], pool: string): { ns: TestNetns; agent: NetnsAgent } {
  const env = {} as { ns: TestNetns; agent: NetnsAgent }
  beforeAll(async () => {
    env.ns = new TestNetns()
    env.ns.run(['ip', 'link', 'set', 'lo', 'up'])
    env.ns.run(firewall)
    env.agent = await startNetnsAgent(env.ns.path)
    await env.agent.eval(newRuntime(pool))
  }, 300000)
  afterAll(async () => {
    await env.agent?.eval(closeRuntime).finally(() => env.agent.stop())
    env.ns?.close()
  })
  return env
}

describe('an nftables inet filter forward chain with policy drop', () => {
  const env = useFirewalledNetns(['nft', 'add table inet filter; add chain inet filter forward { type filter hook forward priority filter; policy drop; }'], nftPool.cidr)
  const forwardChain = () => env.ns.run(['nft', 'list', 'chain', 'inet', 'filter', 'forward'])

  test('containers on one bridge reach each other through it, and our rules carry a comment naming the bridge', async () => {
    const peer = await env.agent.eval<string>(`
      const a = await mc.run('host', ['sleep', '120'], { runtime: ctx.rt, name: 'fw-a' })
      ctx.b = await mc.run('host', ['sleep', '120'], { runtime: ctx.rt, name: 'fw-b' })
      return (await a.inspect()).networkSettings.ipAddress`)
    expect(await env.agent.eval<number>(`return (await ctx.b.exec(['ping', '-c', '1', '-W', '2', '${peer}'])).exitCode`)).toBe(0)
    const bridge = await env.agent.eval<string>(`return (await (await mc.Network.get('bridge', { runtime: ctx.rt })).inspect()).bridge`)
    const chain = forwardChain()
    expect(chain).toContain('policy drop;')
    expect(chain).toMatch(new RegExp(`iifname "${bridge}" counter packets \\d+ bytes \\d+ accept comment "minicontainer:${bridge}"`))
    expect(chain).toMatch(new RegExp(`oifname "${bridge}" counter packets \\d+ bytes \\d+ accept comment "minicontainer:${bridge}"`))
  })

  test('closing the runtime leaves the chain as it was: policy drop, no rules', async () => {
    await env.agent.eval(`
      for (const c of await mc.Container.list({ runtime: ctx.rt, all: true })) await c.remove({ force: true })
      await ctx.rt.close()`)
    const chain = forwardChain()
    expect(chain).toContain('policy drop;')
    expect(chain).not.toContain('minicontainer')
    expect(chain).not.toContain('accept')
  })
})

describe('an iptables-legacy FORWARD chain', () => {
  const env = useFirewalledNetns(['iptables-legacy', '-P', 'FORWARD', 'DROP'], legacyPool.cidr)

  test('a bridged container fails with EFIREWALL naming the fix, and no bridge or table is left', async () => {
    const err = await env.agent.eval<{ code: string; message: string }>(`
      try { await mc.run('host', ['true'], { runtime: ctx.rt, name: 'legacy-a' }); return { code: 'none', message: '' } }
      catch (e) { return { code: e.code, message: e.message } }`)
    expect(err.code).toBe('EFIREWALL')
    expect(err.message).toContain('update-alternatives --set iptables /usr/sbin/iptables-nft')
    expect(err.message).toContain('iptables-legacy -I FORWARD -i mc+ -j ACCEPT')
    expect(env.ns.run(['ip', '-o', 'link', 'show'])).not.toMatch(/: mc/)
    expect(env.ns.run(['nft', 'list', 'tables'])).not.toContain('minicontainer_')
    expect(execFileSync('nsenter', [`--net=${env.ns.path}`, '--', 'iptables-legacy', '-S', 'FORWARD']).toString()).toContain('-P FORWARD DROP')
  })
})
