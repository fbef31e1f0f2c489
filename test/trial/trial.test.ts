/**
 * Issue 24's trial, as a new user would run it: the packed package installed
 * into a fresh TypeScript project set up as the README says, and a jest suite
 * written from the README alone (test/trial/project/) run there as root on a
 * runtime root of its own. Official images cannot be pulled here: redis:7 and
 * postgres:16 are stand-ins (Debian's servers in the host image, postgres
 * behind an imitation of the official entrypoint), as the module tests make.
 * First an interrupted run (SIGINT to jest's process group mid-test, as
 * Ctrl-C in a terminal), then the whole suite: it must pass, and once it is
 * over nothing of either run is left: no container, network, volume,
 * container cgroup or writable layer.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Container, Image, Network, Runtime, Volume } from '../../lib'
import { installTarball, nodeOnlyBin, packRepo } from '../package/helpers'
import { readmeJestProject } from '../tools/readme-project'
import { hostStandIn } from '../tools/stand-in-image'

const userFiles = path.join(__dirname, 'project')
let work: string
let project: string
let root: string
let ids: string

/** The user's jest on one of their test files, on the trial's runtime root. */
function jestArgs(file: string): string[] {
  return [path.join(project, 'node_modules', 'jest', 'bin', 'jest.js'), file]
}
function jestEnv(): NodeJS.ProcessEnv {
  return { ...process.env, MINICONTAINER_ROOT: root, TRIAL_IDS: ids, TRIAL_READY: path.join(work, 'ready'), TRIAL_KEPT: path.join(work, 'kept') }
}

/** What the runs noted they created: kind → ids. */
function createdIds(): Record<'container' | 'network' | 'volume', string[]> {
  const all = { container: [] as string[], network: [] as string[], volume: [] as string[] }
  for (const line of fs.readFileSync(ids, 'utf8').split('\n').filter(Boolean)) {
    const [kind, id] = line.split(' ') as ['container' | 'network' | 'volume', string]
    all[kind].push(id)
  }
  return all
}

/** Every cgroup directory (any hierarchy) named after one of `containerIds`. */
function containerCgroups(containerIds: string[]): string[] {
  const wanted = new Set(containerIds)
  const found: string[] = []
  const walk = (dir: string, depth: number): void => {
    if (depth > 4) return
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue
      if (wanted.has(entry.name)) found.push(path.join(dir, entry.name))
      walk(path.join(dir, entry.name), depth + 1)
    }
  }
  walk('/sys/fs/cgroup', 0)
  return found
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-trial-'))
  root = path.join(work, 'root')
  ids = path.join(work, 'ids')
  fs.writeFileSync(ids, '')
  project = installTarball(work, packRepo(work), nodeOnlyBin(work))
  readmeJestProject(project)
  fs.cpSync(userFiles, project, { recursive: true })
  const runtime = new Runtime({ root })
  try {
    await Image.fromHost({ runtime, ref: 'host' })
    await hostStandIn(runtime, 'redis:7', { cmd: ['redis-server', '--protected-mode', 'no'] })
    const pgBin = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim()
    await hostStandIn(runtime, 'postgres:16', {
      entrypoint: ['/docker-entrypoint.sh'], cmd: ['postgres'], stopSignal: 'SIGINT',
      env: [`PATH=${pgBin}:/usr/sbin:/usr/bin:/sbin:/bin`, 'PGDATA=/var/lib/postgresql/data'],
    }, [[path.join(__dirname, '..', 'modules', 'postgres-entrypoint.sh'), '/docker-entrypoint.sh']])
  } finally {
    await runtime.close()
  }
}, 240_000)

afterAll(async () => {
  if (!root) return
  const runtime = new Runtime({ root })
  for (const c of await Container.list({ runtime, all: true })) await c.remove({ force: true, volumes: true }).catch(() => {})
  for (const n of createdIds().network) await (await Network.get(n, { runtime }).catch(() => undefined))?.remove().catch(() => {})
  for (const v of await Volume.list({ runtime })) await v.remove({ force: true }).catch(() => {})
  await runtime.close({ removeRoot: true })
  fs.rmSync(work, { recursive: true, force: true })
}, 60_000)

test('Ctrl-C mid-run, then the suite from the README: it passes, and nothing of either run is left', async () => {
  // The interrupted run: SIGINT to jest's process group once its services, network, volumes and a 20 MB writable layer are up.
  const interrupted = spawn(process.execPath, jestArgs('test/interrupted.test.ts'), { cwd: project, env: jestEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  interrupted.stdout.on('data', (d) => (output += d))
  interrupted.stderr.on('data', (d) => (output += d))
  const exited = new Promise<void>((resolve) => interrupted.once('exit', () => resolve()))
  const readyBy = Date.now() + 90_000
  while (!fs.existsSync(path.join(work, 'ready'))) {
    if (Date.now() > readyBy || interrupted.exitCode !== null) throw new Error(`the interrupted run never got ready:\n${output}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const interruptedIds = createdIds()
  expect(interruptedIds.container).toHaveLength(4)
  expect(containerCgroups(interruptedIds.container)).not.toEqual([]) // the cgroup check below can see them
  process.kill(-(interrupted.pid ?? 0), 'SIGINT')
  await exited
  expect(fs.readdirSync(path.join(root, 'containers')).filter((f) => !f.startsWith('.')).length).toBeGreaterThan(1) // what the next start has to collect

  // Once the next run starts (a runtime on the same root), only the post-mortem container is there.
  const next = new Runtime({ root })
  try {
    expect((await Container.list({ runtime: next, all: true })).map((c) => c.id)).toEqual([fs.readFileSync(path.join(work, 'kept'), 'utf8')])
  } finally {
    await next.close()
  }

  // The next run: the README's suite.
  const suite = spawnSync(process.execPath, jestArgs('test/services.test.ts'), { cwd: project, env: jestEnv(), encoding: 'utf8', timeout: 120_000 })
  expect(suite.stderr).toMatch(/Tests:\s+9 passed, 9 total/)
  expect(suite.status).toBe(0)

  const all = createdIds()
  const runtime = new Runtime({ root })
  try {
    // The one container kept for a post-mortem (keepOnOwnerDeath), stopped; then nothing.
    const kept = fs.readFileSync(path.join(work, 'kept'), 'utf8')
    expect((await Container.list({ runtime, all: true })).map((c) => c.id)).toEqual([kept])
    const postMortem = await Container.get(kept, { runtime })
    expect((await postMortem.inspect()).state.status).toBe('exited')
    await postMortem.remove()
    expect(await Container.list({ runtime, all: true })).toEqual([])
    expect(fs.readdirSync(path.join(root, 'containers')).filter((f) => !f.startsWith('.'))).toEqual([]) // records and writable layers
    const networks = (await Network.list({ runtime })).map((n) => n.name)
    const volumes = (await Volume.list({ runtime })).map((v) => v.name)
    expect(networks.filter((n) => all.network.includes(n))).toEqual([])
    // Kept, as Docker and compose keep them: the named volume the interrupted run made (Volume.create), its data.
    expect(volumes).toEqual(interruptedIds.volume)
    expect(containerCgroups(all.container)).toEqual([])
  } finally {
    await runtime.close()
  }
}, 300_000)
