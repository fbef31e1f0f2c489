/**
 * Crash recovery end to end: a separate Node process starts containers
 * with published ports and is SIGKILLed; the next runtime start on the same
 * root removes the rules and leases of the dead container and keeps those
 * of the detached one that is still running, on a subnet claimed per run
 * (test/net-helpers.ts).
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import { Container, Runtime } from '../../lib'
import { pickFreePort } from '../../lib/network/port-probe'
import { spawnNode } from '../tools/node-child'
import { useSubnets } from '../net-helpers'
import { hostLinks, makeRoot, nftTables } from './helpers'

const root = makeRoot()
const pool = useSubnets(1)[0].cidr

/** The owner process: starts one attached and one detached container, reports, then waits to be killed. */
function ownerScript(attachedPort: number, detachedPort: number): string {
  return `
    const { Runtime, Image, run } = lib()
    ;(async () => {
      const runtime = new Runtime({ root: ${JSON.stringify(root)}, subnetPool: [${JSON.stringify(pool)}] })
      await Image.fromHost({ runtime })
      await run('host', ['sleep', '60'], { runtime, name: 'attached', network: 'bridge', ports: ['${attachedPort}:80'] })
      const server = "require('net').createServer(s=>s.end('alive\\\\n')).listen(80,'0.0.0.0')"
      await run('host', ['node', '-e', server], { runtime, name: 'detached', network: 'bridge', detach: true, ports: ['${detachedPort}:80'] })
      console.log('ready')
      setInterval(() => {}, 1000)
    })().catch((e) => { console.error(e); process.exit(1) })`
}

function fetch(port: number): string {
  for (let i = 0; i < 30; i++) {
    try {
      return execFileSync('nc', ['-w', '2', '127.0.0.1', String(port)], { input: '', timeout: 5000 }).toString().trim()
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') throw err // the tool is missing: fail, never ''
      execFileSync('sleep', ['0.2'])
    }
  }
  return ''
}

afterAll(async () => {
  const runtime = new Runtime({ root, subnetPool: [pool] })
  for (const c of await Container.list({ runtime, all: true })) await c.remove({ force: true }).catch(() => {})
  const svc = runtime.networks
  await runtime.close()
  fs.rmSync(root, { recursive: true, force: true })
  expect(hostLinks(svc.names.bridgePrefix)).toEqual([])
  expect(hostLinks(svc.names.vethPrefix)).toEqual([])
  expect(nftTables()).not.toContain(`table ip ${svc.names.table}`)
})

test('after the owner is SIGKILLed, the next runtime cleans up the dead and keeps the living', async () => {
  const attachedPort = (await pickFreePort('tcp', '', () => false))!
  const detachedPort = (await pickFreePort('tcp', '', (p) => p === attachedPort))!
  const owner = spawnNode(ownerScript(attachedPort, detachedPort), { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('owner did not start its containers')), 90000)
    owner.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && (clearTimeout(timer), resolve()))
    owner.once('exit', (code) => reject(new Error(`owner exited with ${code}`)))
  })
  expect(fetch(detachedPort)).toBe('alive')
  owner.kill('SIGKILL')
  await new Promise((r) => owner.once('exit', r))

  const runtime = new Runtime({ root, subnetPool: [pool] })
  const svc = runtime.networks
  const rules = () => execFileSync('nft', ['list', 'table', 'ip', svc.names.table]).toString()
  expect(rules()).toContain(`dport ${attachedPort}`) // left behind by the crash
  // The attached container dies with its owner; wait (bounded) until the runtime sees it gone.
  const attached = await Container.get('attached', { runtime })
  for (let i = 0; i < 50 && (await attached.inspect()).state.running; i++) await new Promise((r) => setTimeout(r, 100))
  expect((await attached.inspect()).state.running).toBe(false)

  await runtime.ready()
  expect(rules()).not.toContain(`dport ${attachedPort}`)
  expect(rules()).toContain(`dport ${detachedPort}`)
  expect(fetch(detachedPort)).toBe('alive')
  const bridge = await svc.get('bridge')
  expect(Object.values(bridge.containers).map((c) => c.name)).toEqual(['detached'])

  await (await Container.get('detached', { runtime })).remove({ force: true })
  expect(rules()).not.toContain(`dport ${detachedPort}`)
  expect(runtime.networks).toBe(svc)
}, 180_000)
