/**
 * Outbound traffic for a rootless runtime's network namespace: a user cannot
 * route it through the host's stack, so a user-mode helper carries it, pasta
 * (Debian `passt`) or else slirp4netns, the only programs minicontainer runs
 * (slirp4netns first when pasta is Debian 12's: egress-choice.ts).
 * Both need /dev/net/tun, which is checked first (a missing or 0600 device
 * would otherwise fail inside the helper, or hang an older one), and each
 * helper is given a time limit: a start never waits on a stuck helper. When
 * none works, the runtime goes on without egress and one warning says why.
 *
 * The rootless network service (KeeperPlace.open) calls {@link attachEgress} once per runtime with the keeper's
 * namespaces (/proc/<keeper>/ns/net and ns/user): they are the runtime's.
 *
 * @module
 */
import { Socket } from 'node:net'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { chooseEgressHelpers, defaultSearchPath, findHelpers, type EgressHelper } from './egress-choice'
import { tunAccess } from './host-facts'
import { adoptChild } from '../sys/lasting-children'
import { closeQuietly, openFd, pipe, reapEnded, spawnProcessLasting, waitPid, WNOHANG } from '../sys/libc'
import { O_RDWR } from '../sys/fsops'
import { signalQuietly } from '../sys/signal-quietly'

/** The warning's code, for `process.on('warning')` filters. */
export const noEgressWarning = 'MINICONTAINER_NO_EGRESS'

/** A helper carrying the namespace's outbound traffic. */
export interface EgressAttached {
  ok: true
  /** Which helper. */
  helper: EgressHelper
  /** Its pid (pasta's daemon, or slirp4netns). */
  pid: number
  /** The interface it made in the namespace. */
  device: string
  /** Stops the helper (the namespace loses egress). */
  stop(): void
}

/** No egress: why, in words a user can act on. */
export interface EgressRefused {
  ok: false
  /** What failed for each helper tried (or why none was). */
  reason: string
}

/** Where and how {@link attachEgress} looks. */
export interface EgressOptions {
  /** Per helper, how long it may take to be ready (default 5000 ms). */
  timeoutMs?: number
  /** Helpers to try, in order (default: pasta, then slirp4netns; slirp4netns first when pasta is Debian 12's, see egress-choice.ts). */
  helpers?: EgressHelper[]
  /** Directories to look for them in (default $PATH, then /usr/bin and /usr/sbin). */
  searchPath?: string[]
  /** The TUN device to check (default /dev/net/tun). */
  tunPath?: string
}

/** The namespace to give egress to. */
export interface EgressTarget {
  /** Its network namespace (/proc/<pid>/ns/net, /run/netns/<name>). */
  netns: string
  /** The user namespace owning it, for a caller that is not root (/proc/<pid>/ns/user). */
  userns?: string
}

const defaultTimeoutMs = 5000
const device = 'tap0'

/** Why the TUN device cannot be used by this process, or undefined when it can. */
function tunProblem(tunPath: string): string | undefined {
  const code = tunAccess(tunPath)
  if (code === true) return undefined
  if (code === 'ENOENT') return `${tunPath} does not exist (load the tun module: modprobe tun; in a container, pass --device /dev/net/tun)`
  if (code === 'EACCES' || code === 'EPERM') return `${tunPath} cannot be opened by this user (${code}; chmod 0666 ${tunPath}, the default of desktop distributions, as root)`
  return `${tunPath} cannot be opened (${code})`
}

function helperArgs(helper: EgressHelper, target: EgressTarget, readyFd: number): string[] {
  const asRoot = process.geteuid?.() === 0
  if (helper === 'pasta')
    // No inbound forwards (published ports have their own relay), no way to the host's loopback (closed by default),
    // --runas 0 as root: pasta otherwise drops to nobody and cannot enter the namespace.
    return ['--config-net', '-q', '-t', 'none', '-u', 'none', '-T', 'none', '-U', 'none', '--no-map-gw', '-I', device, ...(asRoot ? ['--runas', '0'] : []), '--netns', target.netns, ...(target.userns ? ['--userns', target.userns] : [])]
  // --exit-fd: slirp4netns ends when our end of it closes, so also when this process dies.
  const userns = target.userns ? [`--userns-path=${target.userns}`] : []
  return ['--configure', '--mtu=65520', '--disable-host-loopback', `--ready-fd=${readyFd}`, `--exit-fd=${readyFd + 1}`, '--netns-type=path', ...userns, target.netns, device]
}

/** How often a starting helper is looked at for its exit (pasta's foreground process ends once it is ready). */
const exitPollMs = 5

/** "code" or "signal" of a raw wait status. */
function howEnded(status: number): string {
  return status & 0x7f ? String(status & 0x7f) : String((status >> 8) & 0xff)
}

/**
 * Starts `helper` for the target namespace and resolves once it is ready: pasta
 * when its foreground process exits 0 (it then runs as a daemon, pid from
 * its pid file), slirp4netns when it writes to its ready fd. Rejects with
 * what it said otherwise, or after `timeoutMs` (killing it).
 *
 * Spawned from the thread that lives as long as the process (spawnProcessLasting), and slirp4netns's
 * exit fd is held with libc, not by an event loop: a runtime made in a worker_thread keeps its
 * egress once that worker ended (Node closes a worker's handles; slirp4netns ends at its exit fd's close),
 * and slirp4netns is reaped by that thread too (adoptHelper) whenever it ends.
 */
function runHelper(helper: EgressHelper, file: string, target: EgressTarget, timeoutMs: number): Promise<EgressAttached> {
  const pidFile = path.join(os.tmpdir(), `minicontainer-pasta-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`)
  const args = helperArgs(helper, target, 3)
  if (helper === 'pasta') args.splice(1, 0, '-P', pidFile)
  const { pid, stderr, ready, exitFd } = spawnHelper(file, args, helper === 'slirp4netns')
  let said = ''
  stderr.on('data', (d: Buffer) => (said = (said + d.toString()).slice(-2000))).on('error', () => {})
  return new Promise<EgressAttached>((resolve, reject) => {
    const timer = setTimeout(() => {
      process.kill(pid, 'SIGKILL')
      end()
      reapEnded(pid)
      reject(new Error(`${helper} was not ready within ${timeoutMs} ms`))
    }, timeoutMs)
    const exited = setInterval(() => {
      const status = waitPid(pid, WNOHANG)
      if (status === null) return
      const daemon = helper === 'pasta' && status === 0 ? readPastaPid(pidFile) : undefined
      end()
      if (daemon !== undefined) return pastaAttached(daemon)
      reject(new Error(`${helper} exited (${howEnded(status)}) before it was ready: ${said.trim() || 'it said nothing'}`))
    }, exitPollMs)
    const end = (): void => {
      clearTimeout(timer)
      clearInterval(exited)
      stderr.destroy()
      ready?.destroy()
      if (helper === 'pasta') fs.rmSync(pidFile, { force: true })
    }
    // pasta's daemon, not our child: SIGTERM ends it.
    const pastaAttached = (daemon: number | Error): void => {
      if (daemon instanceof Error) return reject(new Error(`${helper} gave no pid: ${daemon.message}`))
      resolve({ ok: true, helper, pid: daemon, device, stop: () => signalQuietly(daemon, 'SIGTERM') })
    }
    ready?.once('data', () => {
      end()
      try {
        resolve({ ok: true, helper, pid, device, stop: adoptHelper(pid, exitFd) })
      } catch (err) {
        process.kill(pid, 'SIGKILL')
        reapEnded(pid)
        reject(err)
      }
    })
  }).catch((err: Error) => {
    closeQuietly(exitFd)
    throw err
  })
}

function readPastaPid(pidFile: string): number | Error {
  try {
    return Number(fs.readFileSync(pidFile, 'utf8'))
  } catch (err) {
    return err as Error
  }
}

/** A spawned helper: its pid, its stderr and (slirp4netns) ready fd to read, and our end of its exit fd (held, -1 for pasta). */
interface SpawnedHelper {
  pid: number
  stderr: Socket
  ready: Socket | undefined
  exitFd: number
}

/**
 * Spawns `file args` with /dev/null as stdin and stdout, a pipe as stderr and, for slirp4netns, its
 * ready fd (3) and exit fd (4) as pipes. Our read ends are sockets of this event loop (used while it
 * starts); the exit fd's write end is ours with libc, closed by {@link stopHelper} or a failed start, or
 * handed over with slirp4netns once it is ready ({@link adoptHelper}: closed at its reap), or at the process's death.
 */
function spawnHelper(file: string, args: string[], withReadyFds: boolean): SpawnedHelper {
  const opened: number[] = []
  const twoEnds = (): [number, number] => {
    const ends = pipe()
    opened.push(...ends)
    return ends
  }
  try {
    const devNull = openFd('/dev/null', O_RDWR)
    opened.push(devNull)
    const [errRead, errWrite] = twoEnds()
    const [readyRead, readyWrite] = withReadyFds ? twoEnds() : [-1, -1]
    const [exitRead, exitWrite] = withReadyFds ? twoEnds() : [-1, -1]
    const env = Object.entries(process.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]))
    const pid = spawnProcessLasting(file, [file, ...args], env, [devNull, devNull, errWrite, ...(withReadyFds ? [readyWrite, exitRead] : [])], false)
    // The child's ends are the child's now; ours stay in `opened` (closed below) until a socket owns them.
    for (const fd of [devNull, errWrite, readyWrite, exitRead]) closeQuietly(fd)
    opened.splice(0, opened.length, errRead, readyRead)
    const { stderr, ready } = helperSockets(pid, exitWrite, errRead, readyRead, opened)
    return { pid, stderr, ready, exitFd: exitWrite }
  } finally {
    opened.forEach(closeQuietly)
  }
}

/**
 * Sockets of this event loop on our read ends of a spawned helper's pipes (`readyRead` -1: none); each fd
 * leaves `unowned` once its socket owns it. When a socket cannot be made, those made are closed, and the
 * helper, which the start could not hear, is stopped.
 */
function helperSockets(pid: number, exitFd: number, errRead: number, readyRead: number, unowned: number[]): { stderr: Socket; ready: Socket | undefined } {
  const made: Socket[] = []
  const socket = (fd: number): Socket => {
    made.push(new Socket({ fd, readable: true, writable: false }))
    unowned.splice(unowned.indexOf(fd), 1)
    return made[made.length - 1]
  }
  try {
    return { stderr: socket(errRead), ready: readyRead >= 0 ? socket(readyRead) : undefined }
  } catch (err) {
    made.forEach((s) => s.destroy())
    stopHelper(pid, exitFd)
    throw err
  }
}

/**
 * Stops a helper not adopted yet (see {@link adoptHelper}), so still ours to reap here and nobody
 * else's: SIGTERM, its exit fd closed (slirp4netns ends at either), then waited for.
 */
function stopHelper(pid: number, exitFd: number): void {
  signalQuietly(pid, 'SIGTERM')
  closeQuietly(exitFd)
  reapEnded(pid)
}

/**
 * Hands slirp4netns (our child) to the lasting thread, which reaps it whenever it ends, even once the
 * worker_thread that made the runtime ended, and closes its exit fd then; returns its stop: SIGTERM.
 */
function adoptHelper(pid: number, exitFd: number): () => void {
  const child = adoptChild(pid, exitFd)
  return () => child.end(true)
}

/**
 * Gives the `target` network namespace outbound traffic through the first
 * helper that works. Never throws and never waits longer than the helpers'
 * time limits: the answer is the attached helper, or the reason there is none.
 */
export async function attachEgress(target: EgressTarget, opts: EgressOptions = {}): Promise<EgressAttached | EgressRefused> {
  const tun = tunProblem(opts.tunPath ?? '/dev/net/tun')
  if (tun) return { ok: false, reason: tun }
  const dirs = opts.searchPath ?? defaultSearchPath()
  const timeoutMs = opts.timeoutMs ?? defaultTimeoutMs
  const { order, paths } = opts.helpers ? { order: opts.helpers, paths: findHelpers(opts.helpers, dirs) } : await chooseEgressHelpers(dirs, timeoutMs)
  const failures: string[] = []
  for (const helper of order) {
    const file = paths[helper]
    if (!file) continue
    try {
      return await runHelper(helper, file, target, timeoutMs)
    } catch (err) {
      failures.push((err as Error).message)
    }
  }
  if (!failures.length) return { ok: false, reason: `neither ${(opts.helpers ?? ['pasta', 'slirp4netns']).join(' nor ')} was found (Debian: apt-get install passt)` }
  return { ok: false, reason: failures.join('; ') }
}

let warned = false

/** Says once per process that containers have no outbound traffic, and why (a {@link noEgressWarning} warning). */
export function warnNoEgress(reason: string): void {
  if (warned) return
  warned = true
  process.emitWarning(`rootless containers have no outbound network (only their own networks and published ports work): ${reason}`, { code: noEgressWarning })
}
