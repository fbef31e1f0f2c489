/**
 * Install without a compiler (issue 8, part 6). `npm pack` builds the
 * prebuilt binaries for linux x64 and arm64 (scripts/prebuild.js, which fails
 * unless a second build from another directory gives the same bytes); the
 * tarball installs with --ignore-scripts on a PATH with nothing but node and
 * runs containers from require() and import; the libraries need only an old
 * glibc; and the arm64 binaries work under qemu-user.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as net from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'
import { Container, Image, Runtime } from '../../lib'
import { baseCloneFlags } from '../../lib/container/run-spec'
import { encodeExecSpec } from '../../lib/shim/spec'
import { closeQuietly, socketPair } from '../../lib/sys/libc'
import { destroyRuntime, tempRuntime } from '../helpers'
import { installTarball, nodeOnlyBin, packRepo, tool, writeUsers } from './helpers'
import { repoRoot } from '../tools/repo-root'

// Packing runs tsc and four compiles: minutes on a loaded machine.
jest.setTimeout(600_000)

let work: string
let bin: string
let project: string
let installed: string
const archs = ['x64', 'arm64'] as const
const prebuilt = (arch: string, file: string) => path.join(installed, 'native', 'prebuilt', `linux-${arch}`, file)

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-pack-'))
  const tarball = packRepo(work)
  bin = nodeOnlyBin(work)
  project = installTarball(work, tarball, bin)
  installed = path.join(project, 'node_modules', 'minicontainer')
})

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true })
})

/** Runs a program of the temp project with PATH holding only node; returns its JSON output. */
function runUser(file: string): { exit: { exitCode: number }; output: string } {
  const out = execFileSync(path.join(bin, 'node'), [file], { cwd: project, env: { PATH: bin }, encoding: 'utf8' })
  return JSON.parse(out.trim().split('\n').pop() ?? '')
}

test('the package carries mc-shim and libmcnative.so for x64 and arm64, executable, and nothing built from source', () => {
  for (const arch of archs)
    for (const file of ['mc-shim', 'libmcnative.so']) expect(fs.statSync(prebuilt(arch, file)).mode & 0o111).toBe(0o111)
  expect(fs.existsSync(path.join(installed, 'native', 'build'))).toBe(false)
  expect(fs.existsSync(path.join(installed, 'native', 'Makefile'))).toBe(true) // the fallback
  // the repo copy was packed, so the working tree holds no prebuilt binaries
  expect(fs.existsSync(path.join(repoRoot, 'native', 'prebuilt'))).toBe(false)
})

test('the package says where it comes from, ships its LICENSE and runs no prepare script', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8')) as Record<string, unknown>
  expect(manifest.repository).toEqual({ type: 'git', url: 'git+https://github.com/minicontainer/minicontainer.git' })
  expect(manifest.homepage).toBe('https://github.com/minicontainer/minicontainer#readme')
  expect(manifest.bugs).toEqual({ url: 'https://github.com/minicontainer/minicontainer/issues' })
  expect(manifest.license).toBe('MIT')
  expect(fs.readFileSync(path.join(installed, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n/)
  // A prepare script would run tsc on every git install and in `npm ci` of dependants; dist/ is packed built.
  expect(Object.keys(manifest.scripts as object)).not.toContain('prepare')
  expect(fs.existsSync(path.join(installed, 'dist', 'index.js'))).toBe(true)
})

test("minicontainer/modules resolves from require() and import, with its types", () => {
  const names = (args: string[]) => execFileSync(path.join(bin, 'node'), args, { cwd: project, env: { PATH: bin }, encoding: 'utf8' }).trim()
  expect(names(['-e', "console.log(Object.keys(require('minicontainer/modules')).sort().join())"])).toBe('MariaDbContainer,MySqlContainer,NginxContainer,PostgresContainer,RabbitMqContainer,RedisContainer,ServiceCommandError,StartedMySql,StartedPostgres,StartedService')
  expect(names(['--input-type=module', '-e', "import { RedisContainer } from 'minicontainer/modules'; console.log(typeof RedisContainer)"])).toBe('function')
  expect(fs.existsSync(path.join(installed, 'dist', 'modules', 'index.d.ts'))).toBe(true)
})

test('with --ignore-scripts and no gcc, cc or make on PATH, a container runs from require() and from import', () => {
  for (const program of ['gcc', 'cc', 'make']) expect(fs.existsSync(path.join(bin, program))).toBe(false)
  expect(fs.readdirSync(bin)).toEqual(['node'])
  const { cjs, mjs } = writeUsers(project)
  expect(runUser(cjs)).toEqual({ exit: { exitCode: 0 }, output: 'hi from from-require\n' })
  expect(runUser(mjs)).toEqual({ exit: { exitCode: 0 }, output: 'hi from from-import\n' })
})

test('the install script needs no compiler when a prebuilt binary matches, unless asked to build from source', () => {
  const buildJs = path.join(installed, 'native', 'build.js')
  execFileSync(path.join(bin, 'node'), [buildJs], { env: { PATH: bin }, stdio: 'pipe' })
  expect(fs.existsSync(path.join(installed, 'native', 'build'))).toBe(false)
  // asked to, it runs make, which this PATH does not have
  const forced = spawnSync(path.join(bin, 'node'), [buildJs], { env: { PATH: bin, MINICONTAINER_BUILD_FROM_SOURCE: '1' }, encoding: 'utf8' })
  expect(forced.status).toBe(1)
  expect(forced.stderr).toMatch(/building native\/ failed.*apt-get install build-essential/)
})

test('the shims are static and the libraries need glibc 2.17 at most', () => {
  const objdump = tool('objdump', 'binutils')
  const readelf = tool('readelf', 'binutils')
  for (const arch of archs) {
    const symbols = execFileSync(objdump, ['-T', prebuilt(arch, 'libmcnative.so')], { encoding: 'utf8' })
    const versions = [...symbols.matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => Number(m[1]) * 1000 + Number(m[2]))
    expect(versions.length).toBeGreaterThan(0)
    expect(Math.max(...versions)).toBeLessThanOrEqual(2017)
    const headers = execFileSync(readelf, ['-lW', prebuilt(arch, 'mc-shim')], { encoding: 'utf8' })
    expect(headers).not.toMatch(/INTERP|DYNAMIC/)
    expect(execFileSync(readelf, ['-hW', prebuilt(arch, 'mc-shim')], { encoding: 'utf8' })).toMatch(arch === 'x64' ? /X86-64/ : /AArch64/)
  }
})

/** Compiles test/package/native-harness.c for one architecture; returns the program. */
function buildHarness(compiler: string): string {
  const out = path.join(work, `harness-${path.basename(compiler)}`)
  execFileSync(compiler, ['-O2', '-o', out, path.join(__dirname, 'native-harness.c'), '-ldl'])
  return out
}

function runHarness(command: string[]): { stdout: string; stderr: string; status: number | null } {
  const scratch = fs.mkdtempSync(path.join(work, 'scratch-'))
  const r = spawnSync(command[0], [...command.slice(1), scratch], { encoding: 'utf8' })
  return { stdout: r.stdout, stderr: r.stderr, status: r.status }
}

test('the x64 libmcnative passes the C harness', () => {
  const harness = buildHarness(tool('x86_64-linux-gnu-gcc', 'gcc'))
  const r = runHarness([harness, prebuilt('x64', 'libmcnative.so')])
  expect(r.stdout).not.toMatch(/FAIL/)
  expect(r.stdout.match(/^ok /gm)).toHaveLength(8)
  expect(r.status).toBe(0)
})

test('the arm64 libmcnative passes the C harness under qemu-user', () => {
  const harness = buildHarness(tool('aarch64-linux-gnu-gcc', 'gcc-aarch64-linux-gnu libc6-dev-arm64-cross'))
  const qemu = tool('qemu-aarch64', 'qemu-user')
  const r = runHarness([qemu, '-d', 'unimp', '-L', '/usr/aarch64-linux-gnu', harness, prebuilt('arm64', 'libmcnative.so')])
  const failed = r.stdout.match(/^FAIL .*$/gm) ?? []
  // qemu-user before 9.0 has no openat2: then the library must have made arm64's syscall 437 (and got ENOSYS).
  if (failed.length === 1 && failed[0] === 'FAIL openat2 confined to the root') {
    expect(r.stdout).toMatch(/^openat2 returned -38$/m)
    expect(r.stderr).toMatch(/Unsupported syscall: 437\b/)
  } else expect(failed).toEqual([])
  expect(r.stdout.match(/^ok /gm)?.length).toBeGreaterThanOrEqual(7)
})

describe('the arm64 shim under qemu-user', () => {
  let runtime: Runtime
  beforeAll(async () => {
    runtime = tempRuntime()
    await Image.fromHost({ runtime })
  })
  afterAll(() => destroyRuntime(runtime))

  test('execs a program inside a running container (joins its namespaces, forks, reports S and X)', async () => {
    const qemu = tool('qemu-aarch64', 'qemu-user')
    const target = await Container.create('host', ['sleep', '120'], { runtime, hostname: 'arm64-target', network: 'none' })
    await target.start()
    const pid = (await target.inspect()).state.pid
    const spec = encodeExecSpec({
      pid,
      joinFlags: baseCloneFlags,
      process: { args: ['sh', '-c', 'echo $(hostname) $$'], env: ['PATH=/usr/bin:/bin'], cwd: '/', uid: 0, gid: 0, additionalGids: [], capabilities: 0n, noNewPrivileges: true },
    })
    const [ours, theirs] = socketPair()
    const child = spawn(qemu, [prebuilt('arm64', 'mc-shim'), 'exec'], { stdio: ['ignore', 'pipe', 'pipe', theirs] })
    closeQuietly(theirs)
    const control = new net.Socket({ fd: ours, readable: true, writable: true })
    control.end(spec)
    let reports = ''
    let stdout = ''
    control.on('data', (d) => (reports += d))
    child.stdout?.on('data', (d) => (stdout += d))
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    control.destroy()
    await target.remove({ force: true })
    expect(reports).toMatch(/^S \d+\nX 0 0 \d+ -1\n$/) // X: code, signal, when the exit was seen, OOM kills (-1: an exec reads none)
    // the container's hostname, and a pid inside its pid namespace (PID 1 is sleep)
    expect(stdout).toMatch(/^arm64-target \d{1,3}\n$/)
    expect(code).toBe(0)
  })
})

// Last: it changes the installed package.
test('with no prebuilt binary for this CPU, the install script builds from source and the package uses that build', () => {
  tool('make', 'make')
  tool('cc', 'gcc')
  fs.rmSync(path.join(installed, 'native', 'prebuilt', `linux-${process.arch}`), { recursive: true })
  execFileSync(process.execPath, [path.join(installed, 'native', 'build.js')], { stdio: 'pipe' })
  for (const file of ['mc-shim', 'libmcnative.so']) expect(fs.existsSync(path.join(installed, 'native', 'build', file))).toBe(true)
  expect(runUser(writeUsers(project).cjs)).toEqual({ exit: { exitCode: 0 }, output: 'hi from from-require\n' })
})
