/**
 * The shim's helper modes that are not containers (mc-shim netns-sockets,
 * mc-shim relay): started with a control socket as fd 3 and the caller's fds
 * from 4 on; the first line on fd 3 is "R" (ready) or "E <step> <errno>".
 *
 * @module
 */
import * as fs from 'node:fs'
import * as net from 'node:net'
import { SyscallError } from '../errors'
import { closeQuietly, dupFd, errnoName, reapEnded, socketPair, spawnProcessLasting, spawnProcessLastingAsync } from '../sys/libc'
import { shimPath } from './shim-path'

/** A helper that said it is ready. */
export interface ModeProcess {
  /** Its pid (reaped by reapEnded once it ended). */
  pid: number
  /** Our end of its fd 3: closing it tells the helper to end (and it ends when we die). */
  control: net.Socket
}

/**
 * Spawns `mc-shim <args>` with /dev/null as stdio, a socket to us as fd 3 (or, with `controlFd` 4,
 * /dev/null as fd 3 and the socket as 4) and `fds` after it; returns its pid and our end. Spawned
 * from a native thread that lives as long as the process (spawnProcessLasting), not the calling
 * JavaScript thread: a helper that arms PR_SET_PDEATHSIG (the rootless keeper) outlives a worker_thread that asked.
 */
export function spawnShimMode(args: string[], fds: number[], controlFd: 3 | 4 = 3): ModeSpawn {
  const mode = openModeFds(fds, controlFd)
  let pid: number
  try {
    pid = spawnProcessLasting(shimPath, ['mc-shim', ...args], [], mode.all, false)
  } catch (err) {
    return mode.failed(err)
  }
  return mode.spawned(pid)
}

/** {@link spawnShimMode} (control socket as fd 3) without holding this thread while the helper execs; optionally in a session of its own. */
async function spawnShimModeAsync(args: string[], fds: number[], newSession: boolean): Promise<ModeSpawn> {
  const mode = openModeFds(fds, 3)
  let pid: number
  try {
    pid = await spawnProcessLastingAsync(shimPath, ['mc-shim', ...args], [], mode.all, newSession)
  } catch (err) {
    return mode.failed(err)
  }
  return mode.spawned(pid)
}

/** A spawned helper: its pid, and our end of its control socket. */
export interface ModeSpawn {
  /** The helper's pid. */
  pid: number
  /** Our end of its control socket. */
  control: number
}

/** A helper's fds being handed over: `all` its fds in order; `spawned` or `failed` closes what it alone keeps. */
interface ModeFds {
  all: number[]
  spawned(pid: number): ModeSpawn
  failed(err: unknown): never
}

/**
 * The helper's fds: stdio, and fd 3 when below `controlFd`, /dev/null; then the far end of a new
 * socket pair; then `fds`. The far end and /dev/null are closed once spawned (or not), our end too
 * when the spawn failed.
 */
function openModeFds(fds: number[], controlFd: 3 | 4): ModeFds {
  const [ours, theirs] = socketPair()
  const devNull = fs.openSync('/dev/null', 'r+')
  const closeChildSide = (): void => {
    closeQuietly(theirs)
    fs.closeSync(devNull)
  }
  return {
    all: [...Array<number>(controlFd).fill(devNull), theirs, ...fds],
    spawned: (pid) => {
      closeChildSide()
      return { pid, control: ours }
    },
    failed: (err) => {
      closeChildSide()
      closeQuietly(ours)
      throw err
    },
  }
}

/** A helper spawned, its first line still to come. */
export interface StartingModeProcess extends ModeProcess {
  /** Resolves once the helper said "R"; rejects with its failure (then our end is closed: the caller reaps it). */
  ready: Promise<void>
}

/** A helper whose control socket the process holds ({@link spawnHeldModeProcess}). */
export interface HeldModeProcess extends StartingModeProcess {
  /**
   * Our end of its control socket opened with libc (`control` watches a copy): no thread's event loop
   * owns it, so the helper runs on when the worker_thread that started it ends; closing both ends it.
   * The caller owns it: closes it once, or hands it over with the helper (adoptChild).
   */
  held: number
}

/**
 * Spawns `mc-shim <args>` with `fds` as its fds 4, 5... off this thread and resolves once it runs,
 * its "R" in `ready` (killed after `timeoutMs` of silence): the caller may go on and await it
 * later. `newSession`: a helper meant to outlive this process (no signal to its group reaches it).
 * Its control socket is also held with libc (`held`), so the helper lives as long as the process, not
 * as the event loop of the calling thread: Node closes a worker_thread's handles when it ends (`control` too), and the
 * helper ends when its control socket closes.
 */
export function spawnHeldModeProcess(args: string[], fds: number[], timeoutMs: number, newSession = false): Promise<HeldModeProcess> {
  return spawnWatched(args, fds, timeoutMs, newSession, true)
}

/** Spawns the helper off this thread and watches for its first line; with `hold`, a libc copy of our end as `held` (else -1). */
async function spawnWatched(args: string[], fds: number[], timeoutMs: number, newSession: boolean, hold: boolean): Promise<HeldModeProcess> {
  const { pid, control: ours } = await spawnShimModeAsync(args, fds, newSession)
  let held = -1
  let control: net.Socket
  try {
    if (hold) held = dupFd(ours)
    control = new net.Socket({ fd: ours, readable: true, writable: true })
  } catch (err) {
    closeQuietly(ours)
    closeQuietly(held)
    reapEnded(pid)
    throw err
  }
  const ready = firstLine(control, pid, args[0]!, timeoutMs).catch((err: unknown) => {
    control.destroy()
    throw err
  })
  // Awaited later by the caller, maybe after it failed: not an unhandled rejection meanwhile.
  ready.catch(() => {})
  return { pid, control, ready, held }
}

/** Starts `mc-shim <args>` with `fds` as its fds 4, 5...; resolves once it said "R", rejects with its failure, killing it after `timeoutMs` of silence. */
export async function startModeProcess(args: string[], fds: number[], timeoutMs: number): Promise<ModeProcess> {
  const { pid, control, ready } = await spawnWatched(args, fds, timeoutMs, false, false)
  try {
    await ready
  } catch (err) {
    reapEnded(pid)
    throw err
  }
  return { pid, control }
}

function firstLine(control: net.Socket, pid: number, mode: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = ''
    const timer = setTimeout(() => {
      process.kill(pid, 'SIGKILL')
      finish(new SyscallError(`mc-shim ${mode}`, 'ETIMEDOUT'))
    }, timeoutMs)
    const finish = (err?: Error): void => {
      clearTimeout(timer)
      control.off('data', onData).off('close', onClose)
      if (err) reject(err)
      else resolve()
    }
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8')
      const nl = text.indexOf('\n')
      if (nl < 0) return
      const line = text.slice(0, nl)
      const failure = /^E (.+) (\d+)$/.exec(line)
      if (line === 'R') finish()
      else finish(new SyscallError(`mc-shim ${mode}: ${failure?.[1] ?? 'start'}`, failure ? errnoName(Number(failure[2])) : `said "${line}"`))
    }
    const onClose = (): void => finish(new SyscallError(`mc-shim ${mode}`, 'ended without an answer'))
    control.on('data', onData).on('close', onClose).on('error', () => {})
  })
}
