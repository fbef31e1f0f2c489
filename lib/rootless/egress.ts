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
import { spawn, type ChildProcess } from 'node:child_process'
import type { Socket } from 'node:net'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { chooseEgressHelpers, defaultSearchPath, findHelpers, type EgressHelper } from './egress-choice'
import { tunAccess } from './host-facts'

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

/**
 * Starts `helper` for the target namespace and resolves once it is ready: pasta
 * when its foreground process exits 0 (it then runs as a daemon, pid from
 * its pid file), slirp4netns when it writes to its ready fd. Rejects with
 * what it said otherwise, or after `timeoutMs` (killing it).
 */
function runHelper(helper: EgressHelper, file: string, target: EgressTarget, timeoutMs: number): Promise<EgressAttached> {
  const pidFile = path.join(os.tmpdir(), `minicontainer-pasta-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`)
  const args = helperArgs(helper, target, 3)
  if (helper === 'pasta') args.splice(1, 0, '-P', pidFile)
  const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] })
  let said = ''
  child.stderr!.on('data', (d: Buffer) => (said = (said + d.toString()).slice(-2000)))
  return new Promise<EgressAttached>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      fail(`${helper} was not ready within ${timeoutMs} ms`)
    }, timeoutMs)
    const fail = (why: string): void => {
      clearTimeout(timer)
      reject(new Error(why))
    }
    const ready = (helperPid: number): void => {
      clearTimeout(timer)
      child.stderr!.destroy()
      child.removeAllListeners('exit')
      // The helper lives as long as the runtime needs it, not as long as this event loop has work.
      child.unref()
      for (const io of [child.stdio[3], child.stdio[4]]) (io as Socket | null)?.unref()
      resolve({ ok: true, helper, pid: helperPid, device, stop: () => stopHelper(helperPid, child) })
    }
    child.once('error', (err) => fail(`${helper} could not be started: ${err.message}`))
    if (helper === 'slirp4netns') {
      ;(child.stdio[3] as NodeJS.ReadableStream).once('data', () => ready(child.pid!))
      child.once('exit', (code, signal) => fail(`${helper} exited (${signal ?? code}) before it was ready: ${said.trim() || 'it said nothing'}`))
    } else {
      child.once('exit', (code, signal) => {
        if (code !== 0) return fail(`${helper} exited (${signal ?? code}) before it was ready: ${said.trim() || 'it said nothing'}`)
        try {
          ready(Number(fs.readFileSync(pidFile, 'utf8')))
        } catch (err) {
          fail(`${helper} gave no pid: ${(err as Error).message}`)
        } finally {
          fs.rmSync(pidFile, { force: true })
        }
      })
    }
  })
}

function stopHelper(pid: number, child: ChildProcess): void {
  try {
    process.kill(pid, 'SIGTERM')
  } catch {
    /* already gone */
  }
  for (const io of [child.stdio[3], child.stdio[4]]) (io as Socket | null)?.destroy()
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
