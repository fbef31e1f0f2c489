/**
 * A compose project whose owner died: the owner is a child Node process,
 * SIGKILLed as a Ctrl-C'd jest worker is. The next runtime start on its
 * root removes the project's containers, networks and volumes, as its
 * disposal (`down({ volumes: true })`) and testcontainers' reaper would; a
 * volume the project found (external) stays. A live owner's project is left
 * alone.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { randomBytes } from 'node:crypto'
import { Compose, Container, Network, Runtime, Volume } from '../../lib'
import { busyboxImage, destroyRuntime, tempRuntime } from '../helpers'
import type { ChildProcess } from 'node:child_process'
import { firstLineThenKill, spawnNode } from '../tools/node-child'

jest.setTimeout(120_000)

let runtime: Runtime
let workdir: string
beforeAll(async () => {
  runtime = tempRuntime()
  await busyboxImage(runtime)
  workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-compose-owner-'))
})
afterAll(async () => {
  await destroyRuntime(runtime)
  fs.rmSync(workdir, { recursive: true, force: true })
})

const yaml = `
services:
  db: { image: bb, command: [sleep, "300"], volumes: [data:/data, /anon], networks: [default, back] }
  api: { image: bb, command: [sleep, "300"], depends_on: [db], networks: [back] }
networks: { back: {} }
volumes: { data: {} }
`

/** What the dying owner made: its container names and the anonymous volume's name. */
interface Made {
  containers: string[]
  anonymous: string
}

/** A child Node process that ups the project and prints `report` (an expression of its `env`) as a JSON line, then lives on. */
function owner(root: string, project: string, report: string): ChildProcess {
  return spawnNode(
    `;(async () => {
      const { Runtime, Compose } = lib()
      const runtime = new Runtime({ root: ${JSON.stringify(root)} })
      const env = await Compose.up({ yaml: ${JSON.stringify(yaml)}, workdir: ${JSON.stringify(workdir)} }, { runtime, projectName: ${JSON.stringify(project)} })
      console.log(JSON.stringify(${report}))
      setInterval(() => {}, 1000)
    })().catch((e) => { console.error(e); process.exit(1) })`,
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
}

async function ownerThatDies(root: string, project: string): Promise<Made> {
  const report = `{ containers: [(await env.service('db').inspect()).name, (await env.service('api').inspect()).name], anonymous: (await env.service('db').inspect()).mounts.find((m) => m.destination === '/anon').name }`
  return JSON.parse(await firstLineThenKill(owner(root, project, report))) as Made
}

/** Whether a process still runs (a zombie has ended: only its parent's wait is left). */
function runs(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] !== 'Z'
  } catch {
    return false
  }
}

/** Milliseconds from the owner's SIGKILL until none of the project's container processes runs. */
async function msUntilGone(root: string, project: string): Promise<number> {
  const child = owner(root, project, `await Promise.all(['db', 'api'].map(async (s) => (await env.service(s).inspect()).state.pid))`)
  const pids = await new Promise<number[]>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d) => { out += d; if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]) as number[]) })
    child.once('exit', (code) => reject(new Error(`the owner ended first (${code})`)))
  })
  expect(pids.every(runs)).toBe(true)
  const t0 = process.hrtime.bigint()
  child.kill('SIGKILL')
  // Polled without yielding to the event loop: nothing of this process is needed for them to die.
  while (pids.some(runs)) if (process.hrtime.bigint() - t0 > 5_000_000_000n) throw new Error(`containers ${pids.filter(runs).join(', ')} still run 5 s after their owner's SIGKILL`)
  return Number(process.hrtime.bigint() - t0) / 1e6
}

const names = async <T extends { inspect(): Promise<{ name: string }> }>(list: Promise<T[]>) => Promise.all((await list).map(async (x) => (await x.inspect()).name))

test("after its owner is SIGKILLed, the next runtime start removes the project's containers, networks and volumes, and keeps another project's volume", async () => {
  const p = `o${randomBytes(4).toString('hex')}`
  const other = await Volume.create(`${p}x_data`, { runtime, labels: { 'com.docker.compose.project': `${p}x` } })
  const made = await ownerThatDies(runtime.root, p)
  expect(await names(Volume.list({ runtime }))).toContain(`${p}_data`)
  expect(await names(Network.list({ runtime }))).toEqual(expect.arrayContaining([`${p}_default`, `${p}_back`]))

  const next = new Runtime({ root: runtime.root })
  await next.ready()
  const containers = (await Container.list({ runtime: next, all: true })).map((c) => c.name)
  for (const c of made.containers) expect(containers).not.toContain(c)
  const networks = await names(Network.list({ runtime: next }))
  expect(networks).not.toContain(`${p}_default`)
  expect(networks).not.toContain(`${p}_back`)
  const volumes = await names(Volume.list({ runtime: next }))
  expect(volumes).not.toContain(`${p}_data`)
  expect(volumes).not.toContain(made.anonymous)
  expect(volumes).toContain(`${p}x_data`)
  expect(fs.existsSync(path.join(runtime.root, 'network-groups', `${p}.json`))).toBe(false)
  await other.remove()
})

test("its containers' processes end within 100 ms of the owner's SIGKILL (median of 5, each under 500 ms)", async () => {
  const times: number[] = []
  const projects = Array.from({ length: 5 }, () => `g${randomBytes(4).toString('hex')}`)
  for (const p of projects) times.push(await msUntilGone(runtime.root, p))
  const sorted = [...times].sort((a, b) => a - b)
  console.log(`owner SIGKILL -> containers gone, ms: ${times.map((t) => t.toFixed(1)).join(' ')} (median ${sorted[2].toFixed(1)}); load ${os.loadavg()[0].toFixed(2)}`)
  expect(sorted[2]).toBeLessThan(100)
  expect(sorted[4]).toBeLessThan(500)
  // The next runtime start collects what they left, named volumes included.
  const next = new Runtime({ root: runtime.root })
  await next.ready()
  const volumes = await names(Volume.list({ runtime: next }))
  for (const p of projects) expect(volumes).not.toContain(`${p}_data`)
})

/** The v1 freezer hierarchy, where a frozen process keeps a SIGKILL pending until thawed (v2's freezer lets it die). */
const freezerV1 = '/sys/fs/cgroup/freezer'
const hasFreezerV1 = fs.existsSync(path.join(freezerV1, 'freezer.state')) || fs.existsSync(path.join(freezerV1, 'cgroup.procs'))

/** Freezes process `pid` in a cgroup of its own; returns what thaws it and removes that cgroup. */
async function freeze(pid: number): Promise<() => Promise<void>> {
  const dir = fs.mkdtempSync(path.join(freezerV1, 'mc-test-owner-'))
  fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(pid))
  fs.writeFileSync(path.join(dir, 'freezer.state'), 'FROZEN')
  while (fs.readFileSync(path.join(dir, 'freezer.state'), 'utf8').trim() !== 'FROZEN') await new Promise((r) => setTimeout(r, 10))
  return async () => {
    fs.writeFileSync(path.join(dir, 'freezer.state'), 'THAWED')
    while (fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').trim()) await new Promise((r) => setTimeout(r, 10))
    fs.rmdirSync(dir)
  }
}

/** An owner that upped project `p`: its process, and its containers' pids and anonymous volume. */
async function ownerWithPids(p: string): Promise<{ child: ChildProcess; pids: number[]; anonymous: string }> {
  const child = owner(runtime.root, p, `{ pids: await Promise.all(['db', 'api'].map(async (s) => (await env.service(s).inspect()).state.pid)), anonymous: (await env.service('db').inspect()).mounts.find((m) => m.destination === '/anon').name }`)
  const made = await new Promise<{ pids: number[]; anonymous: string }>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d) => { out += d; if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0])) })
    child.once('exit', (code) => reject(new Error(`the owner ended first (${code})`)))
  })
  return { child, ...made }
}

/** What a runtime start on the root left of project `p`: containers, networks, the named volume, `anonymous`, the group record. */
async function leftOf(p: string, anonymous: string): Promise<string[]> {
  const next = new Runtime({ root: runtime.root })
  await next.ready()
  const volumes = await names(Volume.list({ runtime: next }))
  return [
    ...(await Container.list({ runtime: next, all: true })).map((c) => c.name).filter((n) => n.startsWith(`${p}-`)),
    ...(await names(Network.list({ runtime: next }))).filter((n) => n.startsWith(`${p}_`)),
    ...volumes.filter((v) => v === `${p}_data` || v === anonymous),
    ...(fs.existsSync(path.join(runtime.root, 'network-groups', `${p}.json`)) ? ['its group record'] : []),
  ]
}

// Without a v1 freezer this cannot be staged: jest reports it skipped, not passed.
;(hasFreezerV1 ? test : test.skip)("an owner SIGKILLed but not yet gone (its SIGKILL pending: it is frozen) is dead to the next runtime start: its project's containers, networks and volumes go", async () => {
  // Under load a SIGKILLed Node process takes hundreds of ms to become a zombie; its shims kill the
  // containers at once (native/owner.c: a pending SIGKILL is death), so a runtime started meanwhile
  // found exited containers of an owner it still took for alive, and kept them with their volumes.
  const p = `f${randomBytes(4).toString('hex')}`
  const { child, pids, anonymous } = await ownerWithPids(p)
  const thaw = await freeze(child.pid!)
  try {
    child.kill('SIGKILL')
    expect(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8')).toMatch(/^State:\s+D/m)
    // What the shims do on seeing their owner's SIGKILL (they watch its threads ending, which a frozen owner's do not).
    for (const pid of pids) process.kill(pid, 'SIGKILL')
    while (pids.some(runs)) await new Promise((r) => setTimeout(r, 10))
    expect(await leftOf(p, anonymous)).toEqual([])
  } finally {
    await thaw()
  }
})

;(hasFreezerV1 ? test : test.skip)("a dead owner's project whose containers still run at a runtime start keeps its record, and the next start removes the rest once they ended", async () => {
  // The record was forgotten even when the project's networks and volumes stayed in use: once its
  // containers ended, nothing removed those any more.
  const p = `k${randomBytes(4).toString('hex')}`
  const { child, pids, anonymous } = await ownerWithPids(p)
  const thaw = await freeze(child.pid!)
  let thawed = false
  try {
    child.kill('SIGKILL') // pending, while frozen: its shims see nothing, and its containers run on past the wait for the dying
    const left = await leftOf(p, anonymous)
    expect(left).toEqual(expect.arrayContaining([`${p}_data`, anonymous, 'its group record']))
    await thaw()
    thawed = true
    while (pids.some(runs)) await new Promise((r) => setTimeout(r, 10))
    expect(await leftOf(p, anonymous)).toEqual([])
  } finally {
    if (!thawed) await thaw()
  }
})

test("a live owner's project is left alone by another runtime's start, and down() forgets its record", async () => {
  const p = `l${randomBytes(4).toString('hex')}`
  const env = await Compose.up({ yaml, workdir }, { runtime, projectName: p })
  try {
    const other = new Runtime({ root: runtime.root })
    await other.ready()
    expect(await names(Network.list({ runtime: other }))).toEqual(expect.arrayContaining([`${p}_default`, `${p}_back`]))
    expect((await env.service('db').inspect()).state.running).toBe(true)
    expect(fs.existsSync(path.join(runtime.root, 'network-groups', `${p}.json`))).toBe(true)
  } finally {
    await env.down({ volumes: true })
  }
  expect(fs.existsSync(path.join(runtime.root, 'network-groups', `${p}.json`))).toBe(false)
})
