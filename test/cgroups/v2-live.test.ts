// The cgroup v2 code path on a real cgroup2 hierarchy. This host's cgroups are hybrid (v1 controllers
// plus a cgroup2 mount at /sys/fs/cgroup/unified with no controllers but hugetlb), so a v2-only
// machine is reproduced by handing a runtime the v2 driver over that mount: the kernel's own files
// (cgroup.procs, cgroup.freeze, cgroup.events, cpu.stat, the cgroup namespace) are exercised for real.
// What needs controllers this mount lacks (memory, cpu, pids limits) must fail with a clear error.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { run, type Runtime } from '../../lib'
import { CgroupService, devicePolicy, resolveResources } from '../../lib/cgroups'
import { text, useRuntime } from '../helpers'
import { startTicker } from './ticker'
import { syscallsOnPaths } from '../tools/strace'

const unified = '/sys/fs/cgroup/unified'

let runtime: Runtime
let scope: string
useRuntime((r) => {
  runtime = r
  scope = `minicontainer-v2test-${path.basename(r.root)}`
  const controllers = new Set(fs.readFileSync(path.join(unified, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean))
  // Only the layout is injected; everything below it is the library's real v2 driver on the real kernel.
  Object.assign(runtime, { cgroups: new CgroupService(scope, () => ({ name: 'v2', mountPoint: unified, controllers, ownPath: '/' })) })
  // No container pre-started in the scope: these tests list it and remove it between starts.
}, { prestart: false })

/** The container process's path in the unified hierarchy, from the kernel (/proc/<pid>/cgroup, line "0::"). */
function unifiedPath(pid: number): string {
  return fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'))!.slice(3)
}

test('the host mount is a real cgroup2 hierarchy without the memory, cpu and pids controllers', () => {
  expect(fs.statfsSync(unified).type).toBe(0x63677270) // CGROUP2_SUPER_MAGIC
  expect(runtime.cgroups.layout).toBe('v2')
})

test('v2: the container runs in its own cgroup, sees it as / through a cgroup namespace, and it goes with the container', async () => {
  const c = await run('host', ['sh', '-c', 'cat /proc/self/cgroup; grep " /sys/fs/cgroup " /proc/self/mountinfo; sleep 30'], { runtime, network: 'none' })
  const { pid } = (await c.inspect()).state
  expect(unifiedPath(pid)).toBe(`/${scope}/${c.id}`)
  expect(fs.readFileSync(path.join(unified, scope, c.id, 'cgroup.procs'), 'utf8').trim().split('\n').map(Number)).toContain(pid)
  // Inside: the namespace's root is the container's cgroup, mounted read-only as cgroup2.
  let inside = ''
  for (let i = 0; i < 100 && !inside.includes('/sys/fs/cgroup'); i++) {
    await new Promise((r) => setTimeout(r, 20))
    inside = await text(c.logs())
  }
  expect(inside).toMatch(/^0::\/$/m)
  expect(inside).toMatch(/ \/sys\/fs\/cgroup ro,.* - cgroup2 /)
  const stats = await c.stats()
  expect(stats.pids.current).toBe(0) // no pids controller: no counter to read
  expect(stats.cpu.usageNs).toBeGreaterThan(0) // cpu.stat is core in v2, with or without the cpu controller
  await c.remove({ force: true })
  expect(fs.existsSync(path.join(unified, scope, c.id))).toBe(false)
})

test('v2: pause and unpause go through cgroup.freeze and the kernel reports the state in cgroup.events', async () => {
  const { c, pid, count: counter } = await startTicker(runtime)
  const events = () => fs.readFileSync(path.join(unified, scope, c.id, 'cgroup.events'), 'utf8')
  await new Promise((r) => setTimeout(r, 200))
  await c.pause()
  expect(events()).toMatch(/^frozen 1$/m)
  expect((await c.inspect()).state).toMatchObject({ status: 'paused', paused: true })
  const at = counter()
  await new Promise((r) => setTimeout(r, 300))
  expect(counter()).toBe(at)
  await c.unpause()
  expect(events()).toMatch(/^frozen 0$/m)
  await new Promise((r) => setTimeout(r, 300))
  expect(counter()).toBeGreaterThan(at)
  expect((await c.top()).map((p) => p.pid)).toContain(pid)
  await c.remove({ force: true })
})

test('v2 without the memory, cpu and pids controllers: limits are refused with EUNSUPPORTED naming the controller, and nothing is left', async () => {
  for (const [opts, controller] of [[{ memory: '64m' }, 'memory'], [{ cpus: 1 }, 'cpu'], [{ pidsLimit: 10 }, 'pids']] as const) {
    const err = await run('host', ['true'], { runtime, network: 'none', ...opts }).catch((e) => e)
    expect(err).toMatchObject({ code: 'EUNSUPPORTED', message: expect.stringContaining(controller) })
  }
  expect(fs.readdirSync(path.join(unified, scope)).filter((d) => fs.statSync(path.join(unified, scope, d)).isDirectory())).toEqual([])
})

test("v2: once a start made the scope, a start makes its cgroup alone (no read of the scope's controllers); with the scope removed meanwhile, the whole way again", async () => {
  const prepare = (id: string) => runtime.cgroups.prepare(id, resolveResources({}, 2), { readOnly: true, devices: devicePolicy({ privileged: false }) })
  const ids = [1, 2, 3].map((n) => `scope${n}${process.pid}${Date.now()}`)
  prepare(ids[0]!) // the scope exists from here on
  const controls = [unified, path.join(unified, scope)].map((d) => path.join(d, 'cgroup.subtree_control'))
  expect(await syscallsOnPaths(process.pid, controls, async () => void prepare(ids[1]!))).toEqual([])
  for (const id of ids.slice(0, 2)) await runtime.cgroups.release(id)
  fs.rmdirSync(path.join(unified, scope)) // as a cleaner would, between two starts
  prepare(ids[2]!)
  expect(fs.existsSync(path.join(unified, scope, ids[2]!, 'cgroup.procs'))).toBe(true)
  await runtime.cgroups.release(ids[2]!)
  // And a container runs in it.
  const c = await run('host', ['true'], { runtime, network: 'none' })
  expect(await c.wait()).toEqual({ exitCode: 0 })
  await c.remove()
})

afterAll(async () => {
  // The runtime's close (useRuntime) removes the scope; make sure, since it is a host-wide directory.
  await runtime.cgroups.removeScope()
  expect(fs.existsSync(path.join(unified, scope))).toBe(false)
})
