/**
 * A start right after the previous run's exit was seen (wait() resolved) gets a cgroup that stays:
 * the previous run's cgroup removal (off the event loop, CgroupService.release) must not take the
 * one this start made. Observed through the cgroup file system while the second run runs.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Container, Image, Runtime } from '../../lib'
import { makeRoot } from '../network/helpers'

const root = makeRoot()
let runtime: Runtime

beforeAll(async () => {
  runtime = new Runtime({ root })
  await Image.fromHost({ runtime })
})

afterAll(async () => {
  for (const c of await Container.list({ runtime, all: true })) await c.remove({ force: true }).catch(() => {})
  await runtime.close()
  fs.rmSync(root, { recursive: true, force: true })
})

test('a start at once after wait() keeps its cgroup: the previous run removal of its cgroup takes none of the new one', async () => {
  const c = await Container.create('host', ['sh', '-c', 'test -e /tmp/second && exec sleep 30; touch /tmp/second'], { runtime, network: 'none' })
  await c.start()
  expect((await c.wait()).exitCode).toBe(0)
  await c.start()
  const pid = (await c.inspect()).state.pid
  // Every hierarchy's directory of the cgroup, as the kernel places the running program.
  const dirs = (runtime.cgroups.join(c.id)?.joinFiles ?? []).map((f) => path.dirname(f))
  expect(dirs.length).toBeGreaterThan(0)
  expect(dirs.filter((d) => !fs.existsSync(d))).toEqual([])
  const procs = dirs.map((d) => fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8'))
  for (const p of procs) expect(p.split('\n')).toContain(String(pid))
  await c.stop({ timeout: 0 })
})
