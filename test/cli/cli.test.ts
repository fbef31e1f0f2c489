/**
 * `npx minicontainer` as a user runs it: the built command (dist/cli/main.js)
 * in a child process, on a runtime root of this file's own
 * ($MINICONTAINER_ROOT), its output and exit status asserted.
 */
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import { randomBytes } from 'node:crypto'
import * as path from 'node:path'
import { Container, Image, Volume, type Runtime } from '../../lib'
import { destroyRuntime, tempRuntime, useRuntime } from '../helpers'
import { startRegistry } from '../tools/registry'
import { requireFreshBuild } from '../tools/fresh-build'
import { repoRoot } from '../tools/repo-root'

jest.setTimeout(120_000)

const cli = path.join(repoRoot, 'dist', 'cli', 'main.js')

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { hostImage: true, busybox: true })

beforeAll(() => requireFreshBuild('dist/cli/main.js'))

/** Runs `minicontainer ...args` against this file's runtime root. */
function mc(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return mcIn(runtime.root, args)
}

/** Runs `minicontainer ...args` against another runtime root, with `input` on its stdin. */
function mcIn(root: string, args: string[], input?: Buffer): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, MINICONTAINER_ROOT: root }, timeout: 60_000, ...(input ? { input } : {}) })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** A fresh runtime root for one test, removed after `use`. */
async function withFreshRoot(use: (root: string) => Promise<void>): Promise<void> {
  const fresh = tempRuntime()
  try {
    await use(fresh.root)
  } finally {
    await destroyRuntime(fresh)
  }
}

const unique = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}`

test('run prints the output on its streams and exits with the program\'s code; --rm leaves nothing', () => {
  const name = unique('once')
  const r = mc('run', '--rm', '--name', name, '--network', 'none', 'host', 'sh', '-c', 'echo out; echo err >&2; exit 4')
  expect(r).toEqual({ status: 4, stdout: 'out\n', stderr: 'err\n' })
  expect(mc('ps', '-a', '--json').stdout).not.toContain(name)
})

test('run -d -p, ps (table and --json), exec, logs --tail, inspect, rm -f', () => {
  const name = unique('web')
  const id = mc('run', '-d', '--name', name, '-p', '127.0.0.1::8080', '-e', 'GREETING=hi', 'host', 'sh', '-c', 'for i in 1 2 3; do echo line $i; done; echo $GREETING; exec sleep 60').stdout.trim()
  expect(id).toMatch(/^[0-9a-f]{64}$/)
  try {
    const table = mc('ps').stdout.split('\n')
    expect(table[0]).toMatch(/^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$/)
    const row = table.find((l) => l.endsWith(name)) ?? ''
    expect(row).toMatch(new RegExp(`^${id.slice(0, 12)} +host:latest +"sh -c for i in 1 2 3; do echo " +.+ ago +Up .+ +127\\.0\\.0\\.1:\\d+->8080/tcp +${name}$`))
    const [listed] = (JSON.parse(mc('ps', '--json').stdout) as Array<{ id: string; status: string; ports: Record<string, Array<{ hostPort: string }>> }>).filter((c) => c.id === id)
    expect(listed?.status).toBe('running')
    expect(Number(listed?.ports['8080/tcp']?.[0]?.hostPort)).toBeGreaterThan(0)

    expect(mc('exec', name, '--', 'sh', '-c', 'echo in $(hostname); exit 3')).toEqual({ status: 3, stdout: `in ${id.slice(0, 12)}\n`, stderr: '' })
    expect(mc('logs', '--tail', '2', name)).toEqual({ status: 0, stdout: 'line 3\nhi\n', stderr: '' })
    const [info] = JSON.parse(mc('inspect', name).stdout) as Array<{ id: string; state: { running: boolean } }>
    expect(info).toMatchObject({ id, state: { running: true } })

    const refused = mc('rm', name)
    expect(refused.status).toBe(1)
    expect(refused.stderr).toMatch(/^minicontainer rm: ERUNNING: cannot remove: container [0-9a-f]{12} is running; stop it first or use rm -f\n$/)
    expect(mc('rm', '-f', name)).toEqual({ status: 0, stdout: `${name}\n`, stderr: '' })
    expect(mc('ps', '-a').stdout).not.toContain(name)
  } finally {
    removeQuietly(id)
  }
})

/** Removes a container the CLI started, if a failed assertion left it. */
function removeQuietly(id: string): void {
  mc('rm', '-f', id)
}

test('images and inspect of an image, as a table and as JSON', async () => {
  const host = await Image.get('host', { runtime })
  const table = mc('images').stdout.split('\n')
  expect(table[0]).toMatch(/^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$/)
  expect(table).toContainEqual(expect.stringMatching(new RegExp(`^host +latest +${host.id.slice(7, 19)} +.+ ago +[\\d.]+(B|kB|MB|GB)$`)))
  expect(JSON.parse(mc('images', '--json').stdout)).toContainEqual(expect.objectContaining({ id: host.id, repoTags: ['host:latest'] }))
  expect((JSON.parse(mc('inspect', 'host').stdout) as Array<{ id: string }>)[0]?.id).toBe(host.id)
})

test('prune --filter label= removes only stopped containers and unused volumes with that label; images stay under a filter', async () => {
  const tag = unique('p')
  const stopped = await Container.create('host', ['true'], { runtime, network: 'none', labels: { batch: tag } })
  const other = await Container.create('host', ['true'], { runtime, network: 'none' })
  const vol = await Volume.create(unique('vol'), { runtime, labels: { batch: tag } })
  try {
    const r = mc('prune', '--volumes', '--filter', `label=batch=${tag}`, '--json')
    expect(r.status).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({ containers: [stopped.id], networks: [], volumes: [vol.name], images: [] })
    expect((await Container.list({ runtime, all: true })).map((c) => c.id)).toContain(other.id)
    expect((await Image.list({ runtime })).length).toBeGreaterThan(0)
  } finally {
    await other.remove({ force: true })
  }
})

test('usage errors exit 2 naming the command; unknown containers exit 1 with ENOCONTAINER', () => {
  expect(mc('logs', '--tail', 'x', 'c')).toMatchObject({ status: 2, stderr: expect.stringMatching(/^minicontainer logs: --tail takes a count or "all", not "x"\nusage: minicontainer logs /) })
  expect(mc('prune', '--filter', 'dangling=true')).toMatchObject({ status: 2 })
  expect(mc('frob')).toMatchObject({ status: 2, stderr: expect.stringContaining('unknown command "frob"') })
  expect(mc('logs', 'no-such-container')).toMatchObject({ status: 1, stderr: expect.stringMatching(/^minicontainer logs: ENOCONTAINER: /) })
})

test('an unusable runtime root: a usage error still exits 2 with its usage (no runtime is opened just to be closed); a command that needs the root exits 1 naming it', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mc-cli-badroot-')), 'a-file')
  fs.writeFileSync(file, '')
  try {
    const root = path.join(file, 'root') // under a regular file: no directory can be made there
    expect(mcIn(root, ['logs', '--tail', 'x', 'c'])).toMatchObject({ status: 2, stdout: '', stderr: expect.stringMatching(/^minicontainer logs: --tail takes a count or "all", not "x"\nusage: minicontainer logs /) })
    expect(mcIn(root, ['rm'])).toMatchObject({ status: 2, stderr: expect.stringContaining('expects at least one container') })
    expect(mcIn(root, ['ps'])).toMatchObject({ status: 1, stderr: expect.stringMatching(new RegExp(`^minicontainer ps: ENOTDIR: cannot use ${root} as the runtime root`)) })
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true })
  }
})

test('pull: a status line per layer change in a pipe, bars redrawn in place on a terminal; then the image runs', async () => {
  const reg = await startRegistry()
  try {
    const ref = `${reg.host}/cli/bb:1`
    await (await Image.get('bb', { runtime })).push(ref)
    await withFreshRoot(async (root) => {
      const piped = mcIn(root, ['pull', ref])
      expect(piped.status).toBe(0)
      const lines = piped.stdout.split('\n')
      expect(lines).toContainEqual(expect.stringMatching(/^[0-9a-f]{12}: Pull complete$/))
      expect(piped.stdout).not.toContain('\x1b[')
      expect(lines.slice(-3)).toEqual([expect.stringMatching(/^Status: pulled /), ref, ''])
      expect(mcIn(root, ['run', '--rm', '--network', 'none', ref, 'echo', 'pulled']).stdout).toBe('pulled\n')
    })
    await withFreshRoot(async (root) => {
      // script(1) gives the command a terminal: what a person sees.
      const shell = `MINICONTAINER_ROOT=${root} ${process.execPath} ${cli} pull ${ref}`
      const tty = spawnSync('script', ['-qec', shell, '/dev/null'], { encoding: 'utf8', timeout: 60_000 })
      expect(tty.status).toBe(0)
      expect(tty.stdout).toMatch(/[0-9a-f]{12}: Downloading \[=*>? *\] [\d.]+(B|kB|MB)\/[\d.]+(kB|MB)/)
      expect(tty.stdout).toContain('\x1b[2K') // a line rewritten in place
    })
  } finally {
    await reg.stop()
  }
})

test('load -i FILE and load from stdin print what they loaded; on a terminal a bar per layer, none with -q', async () => {
  const archive = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mc-cli-load-')), 'bb.tar')
  try {
    await Image.save('bb:latest', archive, { runtime })
    await withFreshRoot(async (root) => {
      expect(mcIn(root, ['load', '-i', archive])).toEqual({ status: 0, stdout: 'Loaded image: bb:latest\n', stderr: '' })
    })
    await withFreshRoot(async (root) => {
      expect(mcIn(root, ['load'], fs.readFileSync(archive))).toEqual({ status: 0, stdout: 'Loaded image: bb:latest\n', stderr: '' })
      expect(mcIn(root, ['run', '--rm', '--network', 'none', 'bb', 'echo', 'loaded']).stdout).toBe('loaded\n')
    })
    await withFreshRoot(async (root) => {
      // script(1) gives the command a terminal: a bar per layer, redrawn in place, then what was loaded.
      const onTty = (...flags: string[]) => spawnSync('script', ['-qec', `MINICONTAINER_ROOT=${root} ${process.execPath} ${cli} load ${flags.join(' ')} -i ${archive}`, '/dev/null'], { encoding: 'utf8', timeout: 60_000 })
      const tty = onTty()
      expect(tty.status).toBe(0)
      expect(tty.stdout).toMatch(/[0-9a-f]{12}: Loading layer \[=*>? *\] [\d.]+(B|kB|MB)\/[\d.]+(kB|MB)/)
      expect(tty.stdout).toMatch(/\x1b\[2K[0-9a-f]{12}: Loaded\r/) // the layer's line rewritten in place
      expect(tty.stdout).toMatch(/Loaded image: bb:latest\r?\n$/)
      const quiet = onTty('-q') // -q: what was loaded, no bars
      expect(quiet).toMatchObject({ status: 0, stdout: 'Loaded image: bb:latest\r\n' })
    })
  } finally {
    fs.rmSync(path.dirname(archive), { recursive: true, force: true })
  }
})
