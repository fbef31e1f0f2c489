/**
 * Every way a program can end releases the same things (lib/container/exit.ts): its host-side
 * veth, the nf_tables rules of its published port, its cgroup directories, its network endpoint
 * and address in the runtime's store; and its state says exited, with the right code. Observed
 * with `ip link`, `nft list table`, the cgroup file system and the runtime's network store.
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Container, Image, Runtime, run, type MiniContainerError } from '../../lib'
import { useSubnets } from '../net-helpers'
import { eventually, hostLinks, hostVethOf, makeRoot } from '../network/helpers'
import { spawnNode } from '../tools/node-child'

const pool = useSubnets(1)[0].cidr
const root = makeRoot()
let runtime: Runtime

beforeAll(async () => {
  runtime = new Runtime({ root, subnetPool: [pool] })
  await Image.fromHost({ runtime })
})

afterAll(async () => {
  for (const c of await Container.list({ runtime, all: true })) await c.remove({ force: true }).catch(() => {})
  await runtime.close()
  fs.rmSync(root, { recursive: true, force: true })
})

/** What a running container holds on the host, seen from outside the library. */
interface Held {
  veths: string[]
  cgroupDirs: string[]
  ip: string
  hostPort: string
}

/** The runtime's nf_tables table, as `nft` lists it. */
function ruleset(): string {
  return execFileSync('nft', ['list', 'table', 'ip', runtime.networks.names.table]).toString()
}

/** The cgroup directories of a running container, one per hierarchy, from its processes' cgroup.procs files. */
function cgroupDirsOf(id: string): string[] {
  return (runtime.cgroups.join(id)?.joinFiles ?? []).map((f) => path.dirname(f))
}

/** The runtime's host-side veths but those this process keeps warm for the next start (no container's; another process's die with it). */
function containerVeths(): string[] {
  const warm = runtime.networks.warmVeths()
  return hostLinks(runtime.networks.names.vethPrefix).filter((v) => !warm.includes(v))
}

/** A container of this file on the bridge with port 80 published, running `cmd`; what it holds once it runs. */
async function held(c: Container): Promise<Held> {
  const settings = (await c.inspect()).networkSettings
  const h = { veths: [hostVethOf((await c.inspect()).state.pid)], cgroupDirs: cgroupDirsOf(c.id), ip: settings.ipAddress, hostPort: c.port(80)!.hostPort }
  expect(containerVeths()).toContain(h.veths[0])
  expect(h.cgroupDirs.length).toBeGreaterThan(0)
  for (const d of h.cgroupDirs) expect(fs.existsSync(d)).toBe(true)
  expect(h.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
  expect(ruleset()).toContain(h.ip)
  expect(ruleset()).toContain(`dport ${h.hostPort} `)
  return h
}

/** What is still held of `h`; [] once everything is released. */
function stillHeld(id: string, h: Held): string[] {
  const rules = ruleset()
  return [
    ...containerVeths().map((v) => `veth ${v}`),
    ...h.cgroupDirs.filter((d) => fs.existsSync(d)).map((d) => `cgroup ${d}`),
    ...(rules.includes(h.ip) ? [`rules for ${h.ip}`] : []),
    ...(rules.includes(`dport ${h.hostPort} `) ? [`rules for port ${h.hostPort}`] : []),
    ...(runtime.networks.settings(id) ? ['endpoint record'] : []),
  ]
}

async function expectReleased(id: string, h: Held): Promise<void> {
  await eventually(() => stillHeld(id, h).length === 0, 10_000)
  expect(stillHeld(id, h)).toEqual([])
}

const bridged = { ports: ['80'] }

/** A program's first step: waiting for /go, so that what it holds can be seen before it ends. */
const untilGo = 'while [ ! -e /go ]; do sleep 0.05; done'
const go = (c: Container) => c.exec(['touch', '/go'])

test('a program that exits on its own', async () => {
  const c = await run('host', ['sh', '-c', `${untilGo}; exit 3`], { runtime, ...bridged, name: 'exits' })
  try {
    const h = await held(c)
    await go(c)
    expect(await c.wait()).toEqual({ exitCode: 3 })
    await expectReleased(c.id, h)
    expect((await c.inspect()).state).toMatchObject({ status: 'exited', running: false, exitCode: 3, oomKilled: false })
  } finally {
    await c.remove({ force: true })
  }
})

test('kill()', async () => {
  const c = await run('host', ['sleep', '600'], { runtime, ...bridged, name: 'killed' })
  const h = await held(c)
  await c.kill()
  expect(await c.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' })
  await expectReleased(c.id, h)
  expect((await c.inspect()).state).toMatchObject({ status: 'exited', exitCode: 137, oomKilled: false })
  await c.remove()
})

test('the OOM killer (a small memory limit)', async () => {
  // dd allocates its 256 MiB block against a 32 MiB limit.
  const c = await run('host', ['sh', '-c', `${untilGo}; exec dd if=/dev/zero of=/dev/null bs=256M count=1`], {
    runtime, ...bridged, name: 'oom', memory: '32m', memorySwap: '32m',
  })
  try {
    const h = await held(c)
    await go(c)
    expect(await c.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' })
    await expectReleased(c.id, h)
    expect((await c.inspect()).state).toMatchObject({ status: 'exited', exitCode: 137, oomKilled: true })
  } finally {
    await c.remove({ force: true })
  }
})

test('the death of the process that owns it (another process learns of the exit)', async () => {
  // The owner is SIGKILLed; its shim's watcher kills the program. This process, which never had
  // its shim, learns of the exit when it looks, and releases what an exit releases: before, only
  // the cgroup (the veth, rules and address stayed until the next runtime's recovery).
  const owner = spawnNode(
    `const { Runtime, run } = lib()
    ;(async () => {
      const runtime = new Runtime({ root: ${JSON.stringify(root)}, subnetPool: [${JSON.stringify(pool)}] })
      const c = await run('host', ['sleep', '600'], { runtime, name: 'orphaned', ports: ['80'] })
      console.log('ready ' + c.id)
      setInterval(() => {}, 1000)
    })().catch((e) => { console.error(e); process.exit(1) })`,
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  try {
    let out = ''
    owner.stdout!.on('data', (d) => (out += String(d)))
    expect(await eventually(() => /ready [0-9a-f]{64}/.test(out), 30_000)).toBe(true)
    const c = await Container.get('orphaned', { runtime })
    const h = await held(c)
    const { pid } = (await c.inspect()).state
    owner.kill('SIGKILL')
    // Gone or a zombie; read without checking first: the file can vanish between a check and a read.
    const goneOrZombie = () => {
      try {
        return /\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))
      } catch {
        return true
      }
    }
    expect(await eventually(goneOrZombie, 5000)).toBe(true)
    expect(await c.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' })
    await expectReleased(c.id, h)
    expect((await c.inspect()).state).toMatchObject({ status: 'exited', exitCode: 137, oomKilled: false })
    await c.remove()
  } finally {
    owner.kill('SIGKILL')
  }
})

test('removal while it is starting', async () => {
  const c = await Container.create('host', ['sleep', '600'], { runtime, ...bridged, name: 'removed-starting' })
  const started = c.start().then(() => 'started', (err: MiniContainerError) => err.code)
  // Its network is made before its program: remove it then, with what it holds seen once.
  let h: Held | undefined
  for (let i = 0; i < 100_000 && !h; i++) {
    const s = runtime.networks.settings(c.id)
    if (s?.ipAddress && s.ports['80/tcp']) h = { veths: [], cgroupDirs: cgroupDirsOf(c.id), ip: s.ipAddress, hostPort: s.ports['80/tcp'][0].hostPort }
    else await new Promise((r) => setImmediate(r))
  }
  expect(h).toBeDefined()
  await c.remove({ force: true })
  // The start fails as removed; or, if it had taken note of the program first, the removal killed it.
  expect(['ENOCONTAINER', 'started']).toContain(await started)
  await expectReleased(c.id, h!)
  await expect(c.inspect()).rejects.toMatchObject({ code: 'ENOCONTAINER' })
})
