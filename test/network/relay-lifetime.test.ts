/**
 * What ends a published port's relays and what keeps addresses apart, with no runtime left to do it:
 * root's [::] relay of a published port ends when its container's network goes with no runtime left to
 * release it (the publisher SIGKILLed, before or after the start; a detached container's program
 * ending), a container exiting at once still starts, and two processes on one root give no address twice.
 */
import * as fs from 'node:fs'
import { Container, Image, Runtime } from '../../lib'
import { hostHasIpv6, pickFreePort } from '../../lib/network/port-probe'
import { useSubnets } from '../net-helpers'
import { nodeOutput, spawnNode } from '../tools/node-child'
import { hostLinks, makeRoot, v6Listeners } from './helpers'

jest.setTimeout(60_000)
let runtime: Runtime
const [net] = useSubnets(1)

beforeAll(async () => {
  runtime = new Runtime({ root: makeRoot(), subnetPool: [net.cidr] })
  await Image.fromHost({ runtime })
})

afterAll(async () => {
  for (const c of await Container.list({ runtime, all: true })) await c.remove({ force: true }).catch(() => {})
  const names = runtime.networks.names
  await runtime.networks.destroy()
  await runtime.close()
  fs.rmSync(runtime.root, { recursive: true, force: true })
  expect(hostLinks(names.vethPrefix)).toEqual([])
  expect(hostLinks(names.bridgePrefix)).toEqual([])
})

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (cond()) return true
  return cond()
}

test("a SIGKILLed owner's container's [::] relay ends with the container", async () => {
  expect(hostHasIpv6()).toBe(true)
  const hp = (await pickFreePort('tcp', '', () => false))!
  const child = spawnNode(`;(async () => {
      const { Runtime, run } = lib()
      const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)}, subnetPool: [${JSON.stringify(net.cidr)}] })
      await run('host', ['sleep', '60'], { runtime, name: 'r7b-owned', network: 'bridge', ports: ['${hp}:80'] })
      console.log('up')
      // Alive until killed: a process whose event loop empties exits, and its container (and relay) with it.
      setInterval(() => {}, 1000)
    })().catch((e) => { console.error(e); process.exit(1) })`, { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve) => child.stdout!.on('data', (d) => String(d).includes('up') && resolve()))
  expect(v6Listeners(hp)).toEqual([`[::]:${hp}`])
  child.kill('SIGKILL')
  expect(await until(() => v6Listeners(hp).length === 0, 5000)).toBe(true)
})

test("a detached container whose program ended with no runtime running loses its [::] relay", async () => {
  const hp = (await pickFreePort('tcp', '', () => false))!
  const out = nodeOutput(`;(async () => {
      const { Runtime, run } = lib()
      const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)}, subnetPool: [${JSON.stringify(net.cidr)}] })
      await run('host', ['sleep', '2'], { runtime, name: 'r7b-detached', network: 'bridge', ports: ['${hp}:80'], detach: true })
      await runtime.close()
      console.log('published')
    })().catch((e) => { console.error(e); process.exit(1) })`)
  expect(out.trim()).toBe('published')
  expect(v6Listeners(hp)).toEqual([`[::]:${hp}`])
  expect(await until(() => v6Listeners(hp).length === 0, 8000)).toBe(true)
})

test('a container that exits at once, published on every address, starts (its [::] relay may find its veth gone)', async () => {
  const results: string[] = []
  for (let i = 0; i < 15; i++) {
    const hp = (await pickFreePort('tcp', '', () => false))!
    try {
      const { run } = await import('../../lib')
      const c = await run('host', ['true'], { runtime, name: `r7b-quick-${i}`, network: 'bridge', ports: [`${hp}:80`] })
      await c.wait()
      await c.remove()
      results.push('ok')
    } catch (err) {
      results.push(`${(err as { code?: string }).code}: ${(err as Error).message}`)
    }
  }
  expect(results.filter((r) => r !== 'ok')).toEqual([])
})

test('two processes starting on one root at once give no address twice (two warm endpoints each)', async () => {
  const script = (tag: string) => `;(async () => {
      const { Runtime, run } = lib()
      const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)}, subnetPool: [${JSON.stringify(net.cidr)}] })
      for (let i = 0; i < 5; i++) {
        const c = await run('host', ['sleep', '60'], { runtime, name: 'r7b-${tag}-' + i, network: 'bridge', detach: true })
        if (i % 2) await c.remove({ force: true })
      }
      await runtime.close()
      console.log('done')
    })().catch((e) => { console.error(e); process.exit(1) })`
  const outs = await Promise.all(['a', 'b'].map((t) => new Promise<string>((resolve) => {
    const child = spawnNode(script(t), { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout!.on('data', (d) => (out += d))
    child.on('exit', () => resolve(out.trim()))
  })))
  expect(outs).toEqual(['done', 'done'])
  const list = (await Container.list({ runtime, all: true })).filter((c) => /^r7b-[ab]-/.test(c.name))
  const ips = await Promise.all(list.map(async (c) => (await c.inspect()).networkSettings.ipAddress))
  for (const c of list) await c.remove({ force: true })
  expect(ips.length).toBe(6)
  expect(new Set(ips).size).toBe(ips.length)
  // Left: the leases of this process's own warm endpoints (the runtime here started containers too).
  const leases = `${runtime.root}/networks/leases`
  const held = fs.readdirSync(leases).filter((f) => f.startsWith('ip-')).map((f) => fs.readFileSync(`${leases}/${f}`, 'utf8'))
  expect(held.filter((owner) => !owner.startsWith(`warm-${process.pid}-`))).toEqual([])
})

test('an owner SIGKILLed at any moment of a start leaves no program and no [::] relay', async () => {
  const { execFileSync } = await import('node:child_process')
  const survivors = (marker: string) => execFileSync('pgrep', ['-f', marker]).toString().trim().split('\n').filter(Boolean)
  const failures: string[] = []
  for (const delay of [150, 250, 350, 450, 550, 700, 900, 1200]) {
    const hp = (await pickFreePort('tcp', '', () => false))!
    const marker = `sleep 42${delay}`
    const child = spawnNode(`;(async () => {
        const { Runtime, run } = lib()
        const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)}, subnetPool: [${JSON.stringify(net.cidr)}] })
        process.stdout.write('go\\n')
        await run('host', ['sh', '-c', '${marker}'], { runtime, network: 'bridge', ports: ['${hp}:80'] })
        process.stdout.write('up\\n')
      })().catch((e) => { console.error(e); process.exit(1) })`, { stdio: ['ignore', 'pipe', 'inherit'] })
    let said = ''
    const exited = new Promise((r) => child.once('exit', r))
    await Promise.race([exited, new Promise<void>((resolve) => child.stdout!.on('data', (d) => { said += d; if (said.includes('go')) resolve() }))])
    await new Promise((r) => setTimeout(r, delay))
    child.kill('SIGKILL')
    await exited
    const gone = await until(() => v6Listeners(hp).length === 0 && (() => { try { return survivors(marker).length === 0 } catch { return true } })(), 5000)
    if (!gone) failures.push(`${delay} ms (${said.includes('up') ? 'after' : 'during'} the start): listeners ${v6Listeners(hp)}`)
  }
  expect(failures).toEqual([])
})
