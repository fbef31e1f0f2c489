/**
 * Shared test fixtures: a private runtime root per test file, the host
 * image, a busybox image built from /bin/busybox, and full cleanup.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Container, Image, Runtime, run, type RuntimeOptions } from '../lib'
import { kernelAtLeast as releaseAtLeast } from '../lib/sys/kernel'

/** Where Debian's busybox-static puts the binary. */
export const busyboxPath = ['/bin/busybox', '/usr/bin/busybox'].find((p) => fs.existsSync(p))

/** A fresh runtime rooted in its own temp dir. */
export function tempRuntime(prefix = 'mc-test-', opts: Omit<RuntimeOptions, 'root'> = {}): Runtime {
  return new Runtime({ ...opts, root: fs.mkdtempSync(path.join(os.tmpdir(), prefix)) })
}

/** Force-removes every container of the runtime, then deletes its root. */
export async function destroyRuntime(runtime: Runtime): Promise<void> {
  for (const c of await Container.list({ runtime, all: true })) await c.remove({ force: true }).catch(() => {})
  // The default bridge and its nf_tables table persist like docker0; a test runtime takes them away.
  // The root goes with it: rootless, files of the subordinate range only go through its user namespace.
  await runtime.close({ removeRoot: true })
}

/** Builds a busybox rootfs directory (the binary plus applet links); throws when busybox-static is not installed. */
export function busyboxRootfs(dir: string): string {
  if (!busyboxPath) throw new Error('busybox is not installed: the busybox tests need it (apt-get install busybox-static)')
  for (const d of ['bin', 'etc', 'tmp', 'root', 'proc', 'sys', 'dev']) fs.mkdirSync(path.join(dir, d), { recursive: true })
  fs.copyFileSync(busyboxPath, path.join(dir, 'bin/busybox'))
  fs.chmodSync(path.join(dir, 'bin/busybox'), 0o755)
  fs.chmodSync(path.join(dir, 'tmp'), 0o1777)
  const applets = ['sh', 'echo', 'cat', 'ls', 'ps', 'hostname', 'id', 'sleep', 'true', 'false', 'touch', 'rm', 'mkdir', 'stat', 'grep', 'wc', 'ip', 'kill', 'pwd', 'env', 'test', 'md5sum', 'ping', 'wget', 'nc', 'mount', 'head', 'tail', 'readlink', 'ln', 'chmod', 'df', 'du', 'dd', 'httpd', 'uname', 'whoami']
  for (const a of applets) fs.symlinkSync('busybox', path.join(dir, 'bin', a))
  fs.writeFileSync(path.join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\n')
  fs.writeFileSync(path.join(dir, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\napp:x:1000:\nstaff:x:50:app\n')
  fs.writeFileSync(path.join(dir, 'etc/motd'), 'from the image\n')
  return dir
}

/** Imports the busybox rootfs as "bb:latest"; throws when busybox is not installed. */
export async function busyboxImage(runtime: Runtime): Promise<Image> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-bbroot-'))
  try {
    return await Image.import(busyboxRootfs(dir), { runtime, ref: 'bb:latest' })
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Collects a readable stream into a string. */
export async function text(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer))
  return Buffer.concat(chunks).toString('utf8')
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * How much slower than this host the machine is: waits for something to happen (never the bounds a
 * test asserts) are multiplied by it. The VM lane sets MC_TEST_TIME_SCALE under software emulation.
 */
export const timeScale = Number(process.env.MC_TEST_TIME_SCALE) || 1

/** The running kernel is `major.minor` or later (features with no probe but the version, e.g. PIDFD_THREAD in 6.9). */
export function kernelAtLeast(major: number, minor: number): boolean {
  return releaseAtLeast(os.release(), `${major}.${minor}`)
}

/**
 * A runtime for one test file: made before its tests (with the host image,
 * and busybox as "bb" when asked), destroyed after them. `use` receives it.
 */
export function useRuntime(use: (runtime: Runtime, bb: Image | undefined) => void, opts: { hostImage?: boolean; busybox?: boolean; prestart?: boolean } = {}): void {
  let runtime: Runtime
  beforeAll(async () => {
    runtime = tempRuntime('mc-test-', { prestart: opts.prestart })
    if (opts.hostImage !== false) await Image.fromHost({ runtime })
    use(runtime, opts.busybox ? await busyboxImage(runtime) : undefined)
  })
  afterAll(() => destroyRuntime(runtime))
}


/**
 * The container directories under runtime `root`: not the spare directory the runtime keeps made for
 * its next create (`.creating-spare…`, lib/container/spare-dir.ts), which each create takes and makes
 * again, nor a container pre-started for the next run of a shape (lib/container/prestarts.ts).
 */
export function containerDirs(root: string): string[] {
  const prestarted = new Set(prestartedIds(root))
  return fs.readdirSync(path.join(root, 'containers')).filter((d) => !d.startsWith('.creating-spare') && !prestarted.has(d))
}

/**
 * The containers pre-started under runtime `root` (lib/container/prestarts.ts): their directories hold
 * `prestarted` where a container's hold config.json (a claim writes the config, then unlinks the marker).
 */
export function prestartedIds(root: string): string[] {
  const dir = path.join(root, 'containers')
  return fs.readdirSync(dir).filter((d) => fs.existsSync(path.join(dir, d, 'prestarted')) && !fs.existsSync(path.join(dir, d, 'config.json')))
}

/** The id of the container pre-started under runtime `root`, once its directory is there (5 s at most). */
export async function prestartedId(root: string): Promise<string> {
  for (let i = 0; i < 250; i++) {
    const [id] = prestartedIds(root)
    if (id) return id
    await sleep(20)
  }
  throw new Error(`no pre-started container in ${root} after 5 s`)
}

/** Runs `ref` (no network) to exit code 0 in `runtime` and returns its output; removes the container and its volumes. */
export async function runOutput(runtime: Runtime, ref: string, cmd?: string[]): Promise<string> {
  const c = await run(ref, cmd, { runtime, network: 'none' })
  expect(await c.wait()).toEqual({ exitCode: 0 })
  const out = await text(c.logs())
  await c.remove({ volumes: true })
  return out
}

/** Pids (as in /proc) of host processes whose command line (NUL-separated) carries `marker`. */
export function processesWith(marker: string): string[] {
  return fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(marker)
      } catch {
        return false
      }
    })
}

/** Live (not zombie) children of `pid`: [pid, comm] from /proc. */
export function childProcesses(pid: number): Array<[number, string]> {
  const out: Array<[number, string]> = []
  for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8')
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(ppid) === pid && state !== 'Z') out.push([Number(p), stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))])
    } catch {
      /* exited meanwhile */
    }
  }
  return out
}

/** `pid`'s command line, its arguments joined by one space ("" once it is gone). */
export function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ')
  } catch {
    return ''
  }
}

/** Whether `pid` is a running process (a zombie has ended: it only waits to be reaped). */
export function processRuns(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  } catch {
    return false
  }
}

/** Whether a mountinfo line's super options (after " - <type> <source> ") say volatile: "volatile", or "fsync=volatile" since Linux 6.6. */
export function mountIsVolatile(line: string): boolean {
  const options = superOptions(line)
  return options.includes('volatile') || options.includes('fsync=volatile')
}

/** The super options of a mountinfo line. */
export function superOptions(line: string): string[] {
  return line.split(' - ')[1].trim().split(' ')[2].split(',')
}
