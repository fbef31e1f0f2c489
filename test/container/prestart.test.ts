/**
 * Pre-started containers (lib/container/prestarts.ts, native/prestart.h): once run() has run a shape
 * twice, a container of that shape is set up ahead, up to its process, and the next run of the shape
 * claims it, sending only its process. What a claimed run's program sees must be what an unclaimed
 * run's sees (its identity, capabilities, seccomp, limits, mounts, hostname); the pre-started one is
 * no container until claimed (list, get and prune skip it); a claim whose program cannot start fails
 * as any start; close(), the process's exit and a dead owner's recovery each remove one left unclaimed.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Container, Image, run, Runtime, type RunOptions } from '../../lib'
import { runtimeTag } from '../../lib/network/names'
import { destroyRuntime, prestartedIds, sleep, tempRuntime, text } from '../helpers'
import { nodeOutput, spawnNode } from '../tools/node-child'

jest.setTimeout(120_000)

let runtime: Runtime
beforeAll(async () => {
  runtime = tempRuntime('mc-prestart-')
  await Image.fromHost({ runtime })
})
afterAll(() => destroyRuntime(runtime))

/** The one pre-started container of `root`, once it is ready (its program-to-be waits in its cgroup). */
async function readyPrestart(root: string): Promise<{ id: string; pids: number[] }> {
  for (let i = 0; i < 250; i++) {
    const [id] = prestartedIds(root)
    const pids = id ? processesIn(id) : []
    if (id && pids.length) return { id, pids }
    await sleep(20)
  }
  throw new Error(`no pre-started container in ${root} after 5 s: ${fs.readdirSync(path.join(root, 'containers'))}`)
}

/** Processes whose cgroup (any hierarchy) is container `id`'s, seen from the host. */
function processesIn(id: string): number[] {
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/cgroup`, 'utf8').includes(`/${id}\n`)
    } catch {
      return false
    }
  }).map(Number)
}

/** Cgroup directories named `id` under the runtime's scope in any hierarchy. */
function cgroupDirsOf(root: string, id: string): string[] {
  const scope = `minicontainer-${runtimeTag(root)}`
  const found: string[] = []
  const walk = (dir: string, depth: number) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue
      const p = path.join(dir, e.name)
      if (e.name === id && path.basename(dir) === scope) found.push(p)
      else if (depth > 0) walk(p, depth - 1)
    }
  }
  walk('/sys/fs/cgroup', 6)
  return found
}

/** What a program sees of itself that a claim sets or the shape fixes, with the container's own id taken out. */
const probe = [
  'sh',
  '-c',
  'id; pwd; hostname; cat /etc/hostname; echo "FOO=$FOO HOME=$HOME"; grep -E "^(Cap|NoNewPrivs|Seccomp)" /proc/self/status; ulimit -n; cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max 2>/dev/null; cut -d" " -f5,9 /proc/self/mountinfo | sort; ls /dev | sort | tr "\\n" " "',
]

/** Runs `probe` with `opts` to its end; its output with its id replaced by "<id>", and whether it was a claimed pre-started one. */
async function probed(opts: RunOptions): Promise<{ out: string; id: string }> {
  const c = await run('host', probe, { runtime, network: 'none', ...opts })
  expect(await c.wait()).toEqual({ exitCode: 0 })
  const out = (await text(c.logs())).split(c.id.slice(0, 12)).join('<id>')
  await c.remove()
  return { out, id: c.id }
}

test("a shape run twice is pre-started, invisible until claimed; the next run of it claims it and its program sees what an unclaimed run's sees, whatever process options it gives", async () => {
  const shape: RunOptions = { pidsLimit: 77, ulimits: { nofile: 555 } }
  const processes: RunOptions[] = [
    { user: '1000:1000', groupAdd: ['44'], workdir: '/tmp', env: { FOO: 'first' } },
    { capDrop: ['NET_RAW', 'CHOWN'], hostname: 'claimed-host', env: { FOO: 'second' }, securityOpt: ['no-new-privileges'] },
    { capAdd: ['SYS_PTRACE'], workdir: '/etc' },
  ]
  // Two unclaimed runs of the shape (the second makes it "run again and again"), each process once.
  const unclaimed = [await probed({ ...shape, ...processes[0] }), await probed({ ...shape, ...processes[1] })]
  for (const [i, process] of processes.entries()) {
    const ready = await readyPrestart(runtime.root)
    // Not a container: not listed, not found by id, not pruned; its program-to-be is set up in its cgroup.
    expect((await Container.list({ runtime, all: true })).map((c) => c.id)).not.toContain(ready.id)
    await expect(Container.get(ready.id, { runtime })).rejects.toMatchObject({ code: 'ENOCONTAINER' })
    expect(await Container.prune({ runtime })).not.toContain(ready.id)
    expect(cgroupDirsOf(runtime.root, ready.id).length).toBeGreaterThan(0)
    const claimed = await probed({ ...shape, ...process })
    expect(claimed.id).toBe(ready.id)
    // The same process options, unclaimed: in a runtime of its own, which has no pre-started container.
    const reference = i < 2 ? unclaimed[i]! : await probedElsewhere({ ...shape, ...process })
    expect(claimed.out).toBe(reference.out)
  }
  expect(unclaimed[0]!.out).toMatch(/^uid=1000\b.* gid=1000\b.* groups=.*\b44\b/m)
  expect(unclaimed[1]!.out).toMatch(/^claimed-host\nclaimed-host\n/m)
  expect(unclaimed[1]!.out).toMatch(/NoNewPrivs:\s+1/)
  expect(unclaimed[0]!.out).toMatch(/^555$/m)
  expect(unclaimed[0]!.out).toMatch(/^77$/m)
})

/** {@link probed} in a runtime of its own on this root's image, which never claims (its first run). */
async function probedElsewhere(opts: RunOptions): Promise<{ out: string; id: string }> {
  const other = tempRuntime('mc-prestart-ref-')
  try {
    await Image.fromHost({ runtime: other })
    const c = await run('host', probe, { runtime: other, network: 'none', ...opts })
    expect(await c.wait()).toEqual({ exitCode: 0 })
    const out = (await text(c.logs())).split(c.id.slice(0, 12)).join('<id>')
    await c.remove()
    return { out, id: c.id }
  } finally {
    await destroyRuntime(other)
  }
}

test('a run of another shape (another limit) does not claim it; a claim whose program cannot start fails as any start and leaves nothing', async () => {
  const ready = await readyPrestart(runtime.root)
  const other = await run('host', ['true'], { runtime, network: 'none', pidsLimit: 78, ulimits: { nofile: 555 } })
  expect(other.id).not.toBe(ready.id)
  await other.wait()
  await other.remove()
  const failed = run('host', ['/no/such/program'], { runtime, network: 'none', pidsLimit: 77, ulimits: { nofile: 555 } })
  await expect(failed).rejects.toMatchObject({ code: 'ESTART', step: 'exec', errno: 'ENOENT' })
  expect(fs.existsSync(path.join(runtime.root, 'containers', ready.id))).toBe(false)
  for (let i = 0; i < 100 && (processesIn(ready.id).length || cgroupDirsOf(runtime.root, ready.id).length); i++) await sleep(20)
  expect(processesIn(ready.id)).toEqual([])
  expect(cgroupDirsOf(runtime.root, ready.id)).toEqual([])
})

test('a pre-started container killed before any claim is not given to a run: the run starts one of its own', async () => {
  // The shape's last run failed (above): one that runs has its next container pre-started.
  await (await run('host', ['true'], { runtime, network: 'none', pidsLimit: 77, ulimits: { nofile: 555 } })).wait()
  const ready = await readyPrestart(runtime.root)
  for (const pid of ready.pids) process.kill(pid, 'SIGKILL')
  for (let i = 0; i < 100 && fs.existsSync(path.join(runtime.root, 'containers', ready.id)); i++) await sleep(20)
  expect(fs.existsSync(path.join(runtime.root, 'containers', ready.id))).toBe(false) // dropped, and removed
  const c = await run('host', ['sh', '-c', 'echo ran'], { runtime, network: 'none', pidsLimit: 77, ulimits: { nofile: 555 } })
  expect(c.id).not.toBe(ready.id)
  expect(await c.wait()).toEqual({ exitCode: 0 })
  expect(await text(c.logs())).toBe('ran\n')
  await c.remove()
})

test('close() ends an unclaimed pre-started container: no process, cgroup or directory is left', async () => {
  const own = tempRuntime('mc-prestart-close-')
  await Image.fromHost({ runtime: own })
  for (let i = 0; i < 2; i++) await (await run('host', ['true'], { runtime: own, network: 'none' })).wait()
  const ready = await readyPrestart(own.root)
  const root = own.root
  await destroyRuntime(own)
  expect(processesIn(ready.id)).toEqual([])
  expect(cgroupDirsOf(root, ready.id)).toEqual([])
  expect(fs.existsSync(root)).toBe(false)
})

/** A script that runs a shape twice on `root`, prints its pre-started container's id once it is ready, then waits for stdin to end. */
const twiceThenWait = (root: string) => `
const { Runtime, run, Image } = lib()
const fs = require('node:fs')
;(async () => {
  const runtime = new Runtime({ root: ${JSON.stringify(root)} })
  for (let i = 0; i < 2; i++) await (await run('host', ['true'], { runtime, network: 'none' })).wait()
  const dir = ${JSON.stringify(path.join(root, 'containers'))}
  for (let i = 0; i < 250; i++) {
    const id = fs.readdirSync(dir).find((d) => fs.existsSync(dir + '/' + d + '/prestarted'))
    if (id) { console.log(id); break }
    await new Promise((r) => setTimeout(r, 20))
  }
  process.stdin.resume()
  await new Promise((r) => process.stdin.on('end', r))
})()
`

test("a process that exits with a pre-started container ends it and removes its directory and cgroup; one whose process was killed is kept by another process's recovery while its owner lives, and removed once it is dead", async () => {
  const root = fs.mkdtempSync('/tmp/mc-prestart-exit-')
  const setup = new Runtime({ root })
  await Image.fromHost({ runtime: setup })
  // Exits by itself (stdin at its end at once): its exit handler ends the pre-started container.
  const exited = spawnNode(twiceThenWait(root), { stdio: ['ignore', 'pipe', 'inherit'] })
  let id = ''
  exited.stdout!.on('data', (d) => (id += String(d)))
  await new Promise((r) => exited.on('exit', r))
  id = id.trim()
  expect(id).toMatch(/^[0-9a-f]{64}$/)
  expect(fs.existsSync(path.join(root, 'containers', id))).toBe(false)
  expect(cgroupDirsOf(root, id)).toEqual([])
  expect(processesIn(id)).toEqual([])

  // Killed (no exit handler): its pre-started container stays while it lives, for every recovery.
  const killed = spawnNode(twiceThenWait(root), { stdio: ['pipe', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve) => killed.stdout!.once('data', (d) => resolve(String(d).trim())))
  const other = new Runtime({ root })
  await other.ready() // a recovery in another process (this one) while its owner lives
  expect(fs.existsSync(path.join(root, 'containers', line, 'prestarted'))).toBe(true)
  expect(cgroupDirsOf(root, line).length).toBeGreaterThan(0)
  await other.close()
  killed.kill('SIGKILL')
  await new Promise((r) => killed.on('exit', r))
  for (let i = 0; i < 100 && processesIn(line).length; i++) await sleep(20)
  expect(processesIn(line)).toEqual([]) // its shim watched its owner
  expect(fs.existsSync(path.join(root, 'containers', line))).toBe(true)
  // A recovery in a process of its own once its owner is dead.
  nodeOutput(`;(async () => { const rt = new (lib().Runtime)({ root: ${JSON.stringify(root)} }); await rt.ready(); await rt.close() })()`)
  expect(fs.existsSync(path.join(root, 'containers', line))).toBe(false)
  expect(cgroupDirsOf(root, line)).toEqual([])
  await destroyRuntime(setup)
})
