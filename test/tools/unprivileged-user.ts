/**
 * An ordinary user made for one test file (rootless tests): a unique name,
 * no home directory, one subordinate uid and gid range of 65536 ids past
 * every range already given, and nothing left once {@link UnprivilegedUser.remove}
 * ran (its processes, its passwd and group entries, its /etc/subuid and
 * /etc/subgid lines). Node children run as it through runuser, from `/`, with
 * a clean environment; the checkout must be readable by others (checked).
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { busyboxRootfs, timeScale } from '../helpers'
import { nodeScript, type NodeResult } from './node-child'

const subidFiles = ['/etc/subuid', '/etc/subgid']

/** The first id past every subordinate range already given (at least 200000), so ours overlaps none. */
function freeSubidStart(): number {
  let end = 200000
  for (const file of subidFiles) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : ''
    for (const line of text.split('\n')) {
      const [, start, count] = line.split(':')
      if (start && count) end = Math.max(end, Number(start) + Number(count))
    }
  }
  return end
}

/**
 * Pids of the processes whose real uid is `uid`, one by one from /proc. An orphan that already died
 * (a zombie whose parent is now the machine's init) is not one unless `deadOrphans`: it runs nothing and
 * holds nothing but its pid, and when init reaps it is init's business (this VM's init reaps in batches,
 * seconds apart).
 */
export function pidsOf(uid: number, { deadOrphans = false } = {}): number[] {
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
    try {
      if (!new RegExp(`^Uid:\\s+${uid}\\s`, 'm').test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))) return false
      const [state, ppid] = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
      return deadOrphans || !(state === 'Z' && ppid === '1')
    } catch {
      return false
    }
  })
}

/** `pid`'s command line, state and parent, for an error naming what would not die or was left. */
export function describePid(pid: number): string {
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()
    const [state, ppid] = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
    return `${pid} (${cmd || '?'}, state ${state}, parent ${ppid})`
  } catch {
    return `${pid} (gone meanwhile)`
  }
}

/**
 * Kills every process of `uid` and waits until /proc lists none, for up to 10 s. One kill(-1, SIGKILL)
 * sent as the uid itself (by a child running as that uid) reaches, atomically, every process the uid may
 * signal: its own, those of user namespaces it owns (its containers, as subordinate ids), and none of
 * anyone else's; a fork in flight is aborted by the kernel rather than missed, so a parent dying while
 * it starts a child (a pasta daemonizing) leaves no survivor (a kill pid by pid of a scan missed it). Sent
 * again while any is listed: a process that takes on the uid meanwhile (setuid) is caught by the next.
 */
export function killAllOf(uid: number, gid: number): void {
  const deadline = Date.now() + 10_000 * timeScale
  for (;;) {
    // node's process.kill, not kill(1), whose options differ between procps and util-linux; ESRCH
    // when nothing was left to signal: the scan below is the judge.
    spawnSync(process.execPath, ['-e', `try { process.kill(-1, 'SIGKILL') } catch {}`], { uid, gid, cwd: '/', stdio: 'ignore' })
    const left = pidsOf(uid)
    if (!left.length) return
    if (Date.now() > deadline) throw new Error(`processes of uid ${uid} outlived SIGKILL for 10 s: ${left.map(describePid).join('; ')}`)
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20) // a SIGKILLed process exits, and is reaped, asynchronously
  }
}

/** rmdir of a cgroup, retried while the processes just killed in it are still leaving (EBUSY) for up to 5 s. */
export function rmdirWhenEmpty(dir: string): void {
  for (let i = 0; ; i++) {
    try {
      return fs.rmdirSync(dir)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EBUSY' || i === 500) throw err
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10)
    }
  }
}

/** Cgroup directories under the cgroup2 mounts owned by `uid` (delegated to it), deepest first. */
function cgroupsOwnedBy(uid: number): string[] {
  const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')).filter((f) => f[2] === 'cgroup2').map((f) => f[1])
  const owned: string[] = []
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(dir, e.name))
    if (fs.statSync(dir).uid === uid) owned.push(dir)
  }
  for (const mount of mounts) walk(mount)
  return owned
}

/** runuser's arguments running `node -e nodeScript(body)` as `name` through `wrapper`, in a clean environment plus `extraEnv`. */
function runuserArgs(name: string, body: string, wrapper: string[], extraEnv: Record<string, string>): string[] {
  const vars = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/', USER: name, ...extraEnv }
  const env = ['env', '-i', ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)]
  return ['-u', name, '--', ...env, ...wrapper, process.execPath, '-e', nodeScript(body)]
}

/**
 * How long {@link UnprivilegedUser.node} lets a script run. A script loads the library from its
 * sources (transpiled as it is required) and runs a few containers: 14-16 s each at a load of 11 on
 * 2 cores (test/rootless/start.test.ts), so 60 s leaves about 4 times that; a slower host stretches it
 * with MC_TEST_TIME_SCALE, as every other limit of the tests.
 */
export const defaultScriptTimeoutMs = 60_000 * timeScale

/** The user made by {@link makeUnprivilegedUser}. */
export interface UnprivilegedUser {
  name: string
  uid: number
  gid: number
  /** Its one subordinate range, the same for uids and gids (count 0: made without one). */
  subids: { start: number; count: number }
  /** Runs `node -e nodeScript(body)` as this user to its end (at most `scriptTimeoutMs` of {@link makeUnprivilegedUser}: then every process of the user is killed and it throws), through `wrapper` (a command that execs its arguments) when given, with `env` added to its clean environment. */
  node(body: string, wrapper?: string[], env?: Record<string, string>): NodeResult
  /** Starts `node -e nodeScript(body)` as this user, like {@link node}, without waiting for it (runuser's process: the script prints its own pid to be killed). */
  spawnNode(body: string, env?: Record<string, string>): ChildProcess
  /**
   * Kills every process of the user (waiting until none is left, before and after userdel), deletes
   * it, then removes what else is left of it: its home and /run/user/<uid> if made, the cgroups
   * delegated to it; throws if userdel left its passwd entry or a subordinate range.
   */
  remove(): void
}

/**
 * useradd with a uid drawn at random from 2000-59999 (below every subordinate range), not useradd's
 * lowest free one: that is the uid a user removed a moment ago had, so a test file still killing its
 * removed user's stragglers (kill(-1) as that uid, after userdel too) killed the next file's new user.
 */
function addUserWithFreshUid(name: string): void {
  for (let attempt = 0; ; attempt++) {
    const uid = 2000 + Math.floor(Math.random() * 58000)
    const r = spawnSync('useradd', ['-M', '-s', '/bin/sh', '-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0', '-u', String(uid), name], { encoding: 'utf8' })
    if (r.status === 0) return
    // 4: the uid is taken (by another user, or a concurrent file's); any other failure is the test's.
    if (r.status !== 4 || attempt >= 20) throw new Error(`useradd ${name} -u ${uid} failed (${r.status}): ${r.stderr}`)
  }
}

/**
 * Makes the user (as root), with a subordinate range unless `subids` is false, whose scripts run for at
 * most `scriptTimeoutMs` ({@link defaultScriptTimeoutMs} unless given); call remove() in afterAll.
 */
export function makeUnprivilegedUser(opts: { subids?: boolean; scriptTimeoutMs?: number } = {}): UnprivilegedUser {
  const scriptTimeoutMs = opts.scriptTimeoutMs ?? defaultScriptTimeoutMs
  for (let dir = __dirname; dir !== '/'; dir = path.dirname(dir))
    if ((fs.statSync(dir).mode & 0o005) !== 0o005) throw new Error(`${dir} is not readable by other users: the rootless tests run the checkout as another user`)
  const name = `mcrl${process.pid}${Math.floor(Math.random() * 1e4)}`.slice(0, 30)
  for (const file of subidFiles) if (!fs.existsSync(file)) fs.writeFileSync(file, '', { mode: 0o644 })
  // No automatic range: ours is chosen past every other, so two files (or engineers) never share ids.
  addUserWithFreshUid(name)
  const start = freeSubidStart()
  const range = `${start}-${start + 65535}`
  if (opts.subids !== false) execFileSync('usermod', ['--add-subuids', range, '--add-subgids', range, name])
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }))
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }))
  return {
    name,
    uid,
    gid,
    subids: { start, count: opts.subids === false ? 0 : 65536 },
    node(body, wrapper = [], extraEnv = {}) {
      const r = spawnSync('runuser', runuserArgs(name, body, wrapper, extraEnv), { cwd: '/', encoding: 'utf8', timeout: scriptTimeoutMs })
      if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT') {
        // runuser forwards the SIGTERM to the script only: what it started (shims, a keeper, pasta) dies here, not in a later test.
        killAllOf(uid, gid)
        throw new Error(`the script as ${name} ran past ${scriptTimeoutMs / 1000} s and was killed with every process of the user (MC_TEST_TIME_SCALE stretches the limit); its stderr:\n${r.stderr}`)
      }
      if (r.error) throw r.error
      return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr }
    },
    spawnNode(body, extraEnv = {}) {
      return spawn('runuser', runuserArgs(name, body, [], extraEnv), { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] })
    },
    remove() {
      killAllOf(uid, gid)
      execFileSync('userdel', [name])
      killAllOf(uid, gid) // one that took on the uid while userdel ran
      for (const dir of [`/home/${name}`, `/run/user/${uid}`]) fs.rmSync(dir, { recursive: true, force: true })
      for (const dir of cgroupsOwnedBy(uid)) rmdirWhenEmpty(dir)
      for (const file of ['/etc/passwd', ...subidFiles])
        if (fs.readFileSync(file, 'utf8').split('\n').some((l) => l.startsWith(`${name}:`))) throw new Error(`userdel left ${name}'s line in ${file}`)
    },
  }
}

/** Directories of a rootless test: the user's HOME, and one others may read holding a busybox rootfs at `bb`. */
export interface UserDirs {
  home: string
  images: string
  /** Removes both and the user's runtime state dir in /tmp. */
  remove(): void
}

/** Makes {@link UserDirs} for `user`, named after `prefix`. */
export function makeUserDirs(user: UnprivilegedUser, prefix: string): UserDirs {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`))
  fs.chownSync(home, user.uid, user.gid)
  const images = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}img-`))
  fs.chmodSync(images, 0o755)
  busyboxRootfs(path.join(images, 'bb'))
  return {
    home,
    images,
    remove: () => {
      for (const dir of [home, images, `/tmp/minicontainer-${user.uid}`]) fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}
