/**
 * Telling whether a recorded container process still runs, from any
 * process: the pid plus its start time (a reused pid has another one), and
 * the exit file the shim writes when the program ends.
 *
 * @module
 */
import * as fs from 'node:fs'
import { toExitStatus, type ExitStatus } from '../shim/shim'
import type { ContainerContext } from './context'
import type { ContainerState } from './types'
import { isAlive } from '../util/process-identity'

export { isAlive, livesOn, processStartTime, thisProcess } from '../util/process-identity'

/** How long a container's fresh state (network, cgroup) may belong to a start in progress in another process rather than to a crash. */
export const START_GRACE_MS = 30_000

/**
 * The one rule for "the program recorded as running still runs", from any process: this process
 * holds its shim (its exit is then learnt from the shim), or its (pid, start time) lives.
 */
export function programRuns(ctx: Pick<ContainerContext, 'shims'>, id: string, state: ContainerState): boolean {
  return state.status === 'running' && (ctx.shims.has(id) || isAlive(state.pid, state.pidStart))
}

/** The exit status and time the shim recorded, if the program has ended. */
export function readExitFile(file: string): (ExitStatus & { finishedAt: string }) | undefined {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
  const [code, signal, millis] = text.trim().split(' ').map(Number)
  return { ...toExitStatus(code, signal), finishedAt: new Date(millis).toISOString() }
}

/**
 * Waits for a container started by another process: the shim's exit file
 * appearing (inotify), or its process vanishing. A wait that is not
 * `persistent` does not keep the Node process alive.
 */
export function waitForeign(exitFile: string, dir: string, state: { pid?: number; pidStart?: string }, persistent = true): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      watcher.close()
      clearInterval(timer)
      resolve()
    }
    const check = () => {
      if (fs.existsSync(exitFile) || !isAlive(state.pid, state.pidStart)) done()
    }
    const watcher = fs.watch(dir, { persistent }, check)
    // A shim killed outright writes no exit file; notice its process vanishing within a second.
    const timer = setInterval(check, 1000)
    if (!persistent) timer.unref()
    check()
  })
}
