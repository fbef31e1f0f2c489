/**
 * Restart policies (`docker run --restart`): which exits bring a container
 * back and after how long. Docker's restart manager, without a daemon: the
 * process that started the container restarts it while it lives. The delay
 * is Docker's: 100 ms before the first restart, doubled before each next one
 * up to a minute, and back to 100 ms after a run of 10 s or more. A stop,
 * kill or removal asked for by the user is never undone. Pure.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'

/** `--restart`: "no" (the default), "always", "unless-stopped", "on-failure" or "on-failure:<most retries>". */
export type RestartPolicyOption = 'no' | 'always' | 'unless-stopped' | 'on-failure' | `on-failure:${number}`

/** A restart policy as recorded (Docker's `HostConfig.RestartPolicy`). */
export interface RestartPolicy {
  /** When the container is restarted. */
  name: 'no' | 'always' | 'unless-stopped' | 'on-failure'
  /** on-failure: the most restarts in a row; 0 is no bound. */
  maximumRetryCount: number
}

const firstDelayMs = 100
const longestDelayMs = 60_000
/** A run this long counts as a success: the next delay starts again from the first. */
const steadyRunMs = 10_000

/** Parses the `restart` option; EINVALID for another value. */
export function parseRestartPolicy(v: unknown, autoRemove: boolean): RestartPolicy | undefined {
  if (v === undefined) return undefined
  const m = typeof v === 'string' ? /^(no|always|unless-stopped|on-failure)(?::(\d+))?$/.exec(v) : null
  if (!m || (m[2] !== undefined && m[1] !== 'on-failure'))
    throw new InvalidArgumentError(`option "restart" must be "no", "always", "unless-stopped", "on-failure" or "on-failure:<most retries>", not ${JSON.stringify(v)}`)
  const policy: RestartPolicy = { name: m[1] as RestartPolicy['name'], maximumRetryCount: Number(m[2] ?? 0) }
  if (autoRemove && policy.name !== 'no') throw new InvalidArgumentError(`conflicting options: restart "${String(v)}" and rm: true (a container removed at its exit cannot be restarted); keep one`)
  return policy
}

/** What ended a run, as the restart decision needs it. */
export interface EndedRun {
  /** Its exit code. */
  exitCode: number
  /** The user stopped, killed or removed it. */
  manuallyStopped: boolean
  /** Restarts by the policy so far. */
  restartCount: number
}

/** Whether the policy restarts a container after this run. */
export function shouldRestart(policy: RestartPolicy | undefined, run: EndedRun): boolean {
  if (!policy || policy.name === 'no' || run.manuallyStopped) return false
  if (policy.name !== 'on-failure') return true
  return run.exitCode !== 0 && (policy.maximumRetryCount === 0 || run.restartCount < policy.maximumRetryCount)
}

/** The wait before the next restart, from the one before (0 for none yet) and how long the run lasted. */
export function nextRestartDelay(previousMs: number, ranMs: number): number {
  if (previousMs === 0 || ranMs >= steadyRunMs) return firstDelayMs
  return Math.min(previousMs * 2, longestDelayMs)
}
