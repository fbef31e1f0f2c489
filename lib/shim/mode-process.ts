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
import { closeQuietly, errnoName, reapEnded, socketPair, spawnProcessLasting } from '../sys/libc'
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
  return withModeFds(fds, controlFd, (all) => spawnProcessLasting(shimPath, ['mc-shim', ...args], [], all, false))
}

/** A spawned helper: its pid, and our end of its control socket. */
export interface ModeSpawn {
  /** The helper's pid. */
  pid: number
  /** Our end of its control socket. */
  control: number
}

/**
 * Runs `spawn` with the helper's fds (stdio, and fd 3 when below `controlFd`, /dev/null; then the
 * far end of a new socket pair; then `fds`) and returns its pid with our end. The far end and
 * /dev/null are closed once `spawn` returned, our end too when it threw.
 */
function withModeFds(fds: number[], controlFd: 3 | 4, spawn: (all: number[]) => number): ModeSpawn {
  const [ours, theirs] = socketPair()
  const devNull = fs.openSync('/dev/null', 'r+')
  try {
    return { pid: spawn([...Array<number>(controlFd).fill(devNull), theirs, ...fds]), control: ours }
  } catch (err) {
    closeQuietly(ours)
    throw err
  } finally {
    closeQuietly(theirs)
    fs.closeSync(devNull)
  }
}

/** Starts `mc-shim <args>` with `fds` as its fds 4, 5...; resolves once it said "R", rejects with its failure, killing it after `timeoutMs` of silence. */
export async function startModeProcess(args: string[], fds: number[], timeoutMs: number): Promise<ModeProcess> {
  const { pid, control: ours } = spawnShimMode(args, fds)
  const control = new net.Socket({ fd: ours, readable: true, writable: true })
  try {
    await firstLine(control, pid, args[0]!, timeoutMs)
  } catch (err) {
    control.destroy()
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
