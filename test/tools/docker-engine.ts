/**
 * A private Docker engine for tests: Debian's dockerd in its own network,
 * mount and PID namespaces, with its own data root, exec root, socket and
 * cgroup parent under a temp dir. Its iptables rules, FORWARD DROP policy,
 * docker0 and br_netfilter settings live in that network namespace only, so
 * the host (and every other test) never sees them; tests that want to run
 * beside Docker enter the same namespace (`nsenter --net=<engine.netns>`).
 *
 * Nothing is pulled: `dockerImportBusybox` imports the busybox rootfs the
 * other tests use. Missing dockerd is a failure, never a skip.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as http from 'node:http'
import * as os from 'node:os'
import * as path from 'node:path'
import { closeQuietly } from '../../lib/sys/libc'
import { createNetns } from '../../lib/sys/netns'
import { Image, type Runtime } from '../../lib'
import { busyboxRootfs, destroyRuntime, tempRuntime } from '../helpers'

/** What a `docker` CLI call printed and how it exited. */
export interface DockerResult {
  stdout: string
  stderr: string
  code: number
}

/** How a CLI call runs: its stdin, time limit, extra environment (DOCKER_BUILDKIT...) and which client (default: the first `docker` on PATH). */
export interface DockerCallOptions {
  input?: string
  timeoutMs?: number
  env?: Record<string, string>
  cli?: string
}

/** A running private engine. */
export interface PrivateDocker {
  /** The engine's unix socket path. */
  readonly socket: string
  /** A path other processes can enter the engine's network namespace by (`nsenter --net=...`). */
  readonly netns: string
  /** dockerd's host pid (e.g. for `ip link set ... netns <pid>`). */
  readonly pid: number
  /** The temp dir holding the engine's roots, socket and log. */
  readonly dir: string
  /** Runs the `docker` CLI against this engine; never throws on a non-zero exit. */
  run(args: string[], opts?: DockerCallOptions): Promise<DockerResult>
  /** Like `run`, but throws (with stderr) unless the command exits 0; returns trimmed stdout. */
  ok(args: string[], opts?: DockerCallOptions): Promise<string>
  /** Stops the engine and its containers and removes everything it made (namespaces, dirs, cgroups). */
  stop(): Promise<void>
}

/** Whether an executable is on PATH. */
function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').some((d) => {
    try {
      fs.accessSync(path.join(d, cmd), fs.constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

/** Whether the engine answers GET /_ping on its socket. */
function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath: socket, path: '/_ping', timeout: 1000 }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on('error', () => resolve(false))
    req.on('timeout', () => req.destroy())
  })
}

/** The host pid of the process `unshare --fork` started (dockerd, PID 1 of its namespace). */
function forkedChild(unsharePid: number): number | undefined {
  try {
    const first = fs.readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8').trim().split(/\s+/)[0]
    return first ? Number(first) : undefined
  } catch {
    return undefined
  }
}

function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

function logTail(dir: string): string {
  try {
    return fs.readFileSync(path.join(dir, 'dockerd.log'), 'utf8').split('\n').slice(-30).join('\n')
  } catch {
    return '(no log)'
  }
}

/** Removes the engine's cgroup parent in every hierarchy (children first). */
function removeCgroups(name: string): void {
  const base = '/sys/fs/cgroup'
  const roots = fs.existsSync(path.join(base, 'cgroup.controllers')) ? [base] : fs.readdirSync(base).map((c) => path.join(base, c))
  for (const root of roots) {
    const dir = path.join(root, name)
    if (!fs.existsSync(dir)) continue
    const depthFirst = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) depthFirst(path.join(d, e.name))
      try {
        fs.rmdirSync(d)
      } catch {
        // Busy or a controller file: the engine is gone, so nothing should be; leave it rather than fail teardown.
      }
    }
    depthFirst(dir)
  }
}

/**
 * Starts dockerd in fresh network, mount and PID namespaces and waits until
 * it answers. Fails (throws) when docker.io is not installed or the engine
 * does not come up within `timeoutMs`.
 */
export async function startPrivateDocker(timeoutMs = 120000): Promise<PrivateDocker> {
  for (const cmd of ['dockerd', 'docker', 'nsenter', 'unshare', 'ip'])
    if (!onPath(cmd)) throw new Error(`${cmd} is not installed: the Docker tests need it (apt-get install docker.io iproute2 util-linux)`)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-docker-'))
  const tag = path.basename(dir).slice('mc-docker-'.length)
  const cgroupParent = `mc-docker-${tag}`
  const socket = path.join(dir, 'docker.sock')
  fs.writeFileSync(path.join(dir, 'daemon.json'), '{}\n')
  const netnsFd = createNetns()
  const netns = `/proc/${process.pid}/fd/${netnsFd}`
  execFileSync('nsenter', [`--net=${netns}`, '--', 'ip', 'link', 'set', 'lo', 'up'])
  // ip_forward off at the start, as on a fresh host: dockerd then turns it on and sets the FORWARD
  // policy to DROP, the situation minicontainer must cope with (a new netns inherits the host's value).
  // A tmpfs on /run hides a host containerd (dockerd would use it instead of its own) and keeps
  // containerd's shim sockets out of the host's /run. The PID namespace ends every process of the
  // engine (containerd, shims, containers) when dockerd exits.
  const dockerd = [
    'dockerd',
    `--data-root=${dir}/data`,
    `--exec-root=${dir}/exec`,
    `--pidfile=${dir}/docker.pid`,
    `--host=unix://${socket}`,
    `--config-file=${dir}/daemon.json`,
    '--exec-opt=native.cgroupdriver=cgroupfs',
    `--cgroup-parent=/${cgroupParent}`,
    '--shutdown-timeout=2',
    '--log-level=warn',
  ].join(' ')
  const log = fs.openSync(path.join(dir, 'dockerd.log'), 'a')
  // setpriv's parent-death signal: a jest worker killed outright takes its engine with it
  // (unshare's --kill-child then stops dockerd) instead of leaving it running on the host.
  const child = spawn(
    'setpriv',
    ['--pdeathsig', 'KILL', '--', 'nsenter', `--net=${netns}`, '--', 'unshare', '--mount', '--propagation=private', '--pid', '--fork', '--mount-proc', '--kill-child=SIGTERM', '--', 'sh', '-c', `echo 0 > /proc/sys/net/ipv4/ip_forward && mount -t tmpfs -o mode=755 tmpfs /run && exec ${dockerd}`],
    { stdio: ['ignore', log, log] },
  )
  fs.closeSync(log)

  const env = { ...process.env, DOCKER_CONFIG: path.join(dir, 'cli') }
  const run = (args: string[], opts: DockerCallOptions = {}): Promise<DockerResult> =>
    new Promise((resolve) => {
      const p = execFile(opts.cli ?? 'docker', ['-H', `unix://${socket}`, ...args], { env: { ...env, ...opts.env }, timeout: opts.timeoutMs ?? 60000, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
        resolve({ stdout: String(stdout), stderr: String(stderr), code: err ? (typeof err.code === 'number' ? err.code : 1) : 0 }),
      )
      // A CLI call that exits before reading its stdin (most do) makes the write fail with EPIPE: not an error of the call.
      p.stdin?.on('error', () => {})
      p.stdin?.end(opts.input ?? '')
    })
  const ok = async (args: string[], opts?: DockerCallOptions): Promise<string> => {
    const r = await run(args, opts)
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`)
    return r.stdout.trim()
  }

  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    const pid = child.pid !== undefined ? forkedChild(child.pid) : undefined
    if (pid !== undefined) {
      // Remove containers first so their shims and cgroups go the orderly way.
      const ids = (await run(['ps', '-aq'], { timeoutMs: 10000 })).stdout.split('\n').filter(Boolean)
      if (ids.length) await run(['rm', '-f', ...ids], { timeoutMs: 30000 })
      process.kill(pid, 'SIGTERM')
      if (!(await exited(child, 20000))) process.kill(pid, 'SIGKILL')
    }
    if (!(await exited(child, 10000))) child.kill('SIGKILL')
    await exited(child, 5000)
    closeQuietly(netnsFd)
    removeCgroups(cgroupParent)
    fs.rmSync(dir, { recursive: true, force: true })
  }

  const deadline = Date.now() + timeoutMs
  while (!(await ping(socket))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const why = child.exitCode !== null ? `exited with ${child.exitCode}` : `did not answer within ${timeoutMs} ms`
      const tail = logTail(dir)
      await stop()
      throw new Error(`private dockerd ${why}:\n${tail}`)
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  const pid = forkedChild(child.pid!)
  if (pid === undefined) {
    await stop()
    throw new Error('private dockerd answers but its process is not found')
  }
  return { socket, netns, pid, dir, run, ok, stop }
}

/**
 * Imports the busybox rootfs (test/helpers.ts busyboxRootfs) into the engine
 * as `ref` with `docker import`, so nothing is pulled. Throws when busybox is
 * not installed.
 */
export async function dockerImportBusybox(engine: PrivateDocker, ref: string): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-bbroot-'))
  const tarball = `${root}.tar`
  try {
    if (!busyboxRootfs(root)) throw new Error('busybox-static is not installed: the Docker tests need it (apt-get install busybox-static)')
    execFileSync('tar', ['-C', root, '-cf', tarball, '.'])
    await engine.ok(['import', '--change', 'CMD ["/bin/sh"]', tarball, ref], { timeoutMs: 60000 })
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
    fs.rmSync(tarball, { force: true })
  }
}

/**
 * Builds `dockerfile` as `tag` in the engine, from a context directory made
 * under `work` holding only the Dockerfile (`docker build -q`).
 */
export async function dockerBuild(engine: PrivateDocker, work: string, dockerfile: string, tag: string): Promise<void> {
  const ctx = fs.mkdtempSync(path.join(work, 'ctx-'))
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), dockerfile)
  await engine.ok(['build', '-q', '-t', tag, ctx], { timeoutMs: 120000 })
}

/** What {@link useDockerFixture} provides to a test file once its beforeAll ran. */
export interface DockerFixture {
  engine: PrivateDocker
  /** A temp runtime of minicontainer's. */
  runtime: Runtime
  /** A temp dir for the file's archives and contexts. */
  work: string
}

/**
 * A test file's fixture: a private engine with the busybox rootfs imported as
 * `base` and `dockerfile` built as `tag`, a temp runtime and a work dir, all
 * made before the file's tests and removed after them.
 */
export function useDockerFixture(opts: { base: string; dockerfile: string; tag: string }): DockerFixture {
  const fx = {} as DockerFixture
  beforeAll(async () => {
    fx.runtime = tempRuntime()
    fx.work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-docker-work-'))
    fx.engine = await startPrivateDocker()
    await dockerImportBusybox(fx.engine, opts.base)
    await dockerBuild(fx.engine, fx.work, opts.dockerfile, opts.tag)
  }, 240000)
  afterAll(async () => {
    await fx.engine?.stop()
    if (fx.runtime) await destroyRuntime(fx.runtime)
    if (fx.work) fs.rmSync(fx.work, { recursive: true, force: true })
  }, 60000)
  return fx
}

/**
 * Imports the rootfs tarball `tarball` as `ref` both into the engine
 * (`docker import`, `config`'s Env and Cmd as --change) and into `runtime`
 * (Image.import with `config`), so a differential builds FROM the same base
 * on both sides.
 */
export async function importOnBoth(engine: PrivateDocker, runtime: Runtime, tarball: string, ref: string, config: { env: string[]; cmd: string[] }): Promise<void> {
  const changes = [...config.env.map((e) => `ENV ${e}`), `CMD ${JSON.stringify(config.cmd)}`].flatMap((c) => ['--change', c])
  await engine.ok(['import', ...changes, tarball, ref], { timeoutMs: 120_000 })
  await Image.import(tarball, { runtime, ref, config })
}

/**
 * A differential test file's fixture: a private engine and a temp runtime
 * with the same busybox rootfs imported as `ref` in both (Cmd /bin/sh),
 * made before the file's tests and removed after them; `use` receives them.
 */
export function useBusyboxOnBoth(ref: string, use: (engine: PrivateDocker, runtime: Runtime) => void): void {
  let engine: PrivateDocker | undefined
  let runtime: Runtime | undefined
  beforeAll(async () => {
    engine = await startPrivateDocker()
    await dockerImportBusybox(engine, ref)
    runtime = tempRuntime()
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-both-'))
    try {
      busyboxRootfs(root)
      await Image.import(root, { runtime, ref, config: { cmd: ['/bin/sh'] } })
    } finally {
      fs.rmSync(root, { recursive: true, force: true })
    }
    use(engine, runtime)
  }, 180_000)
  afterAll(async () => {
    await engine?.stop()
    if (runtime) await destroyRuntime(runtime)
  }, 60_000)
}
