/**
 * Runs a container's health check as Docker does: every `startInterval`
 * during the start period (failures there do not count) and every
 * `interval` after it; `retries` failures in a row make it unhealthy, one
 * success healthy. The state goes to the container's health.json, so every
 * process sees it (the checks themselves run in the process that started
 * the container, as Docker's run in its daemon).
 *
 * @module
 */
import { goDuration } from '../util/go-duration'
import { readJson, writeJson } from '../util/json-file'
import { healthCommand, type ResolvedHealthConfig } from './health-config'
import type { CommandResult, HealthResult, HealthState } from './target'

const keptResults = 5
const maxOutput = 4096

/** Reads a container's health state file. */
export function readHealth(file: string): HealthState | undefined {
  return readJson<HealthState>(file)
}

/** Checks a running container's health until stopped. */
export class HealthMonitor {
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  private readonly startedAt = Date.now()
  private state: HealthState = { status: 'starting', failingStreak: 0, log: [] }

  /**
   * @param config - the effective check
   * @param exec - runs a command in the container; aborting the signal kills it
   * @param file - the health.json to keep current
   */
  constructor(
    private readonly config: ResolvedHealthConfig,
    private readonly exec: (cmd: string[], signal: AbortSignal) => Promise<CommandResult>,
    private readonly file: string,
  ) {
    writeJson(this.file, this.state)
    this.schedule()
  }

  /** Stops checking (the program exited). The last state stays on disk. */
  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

  private inStartPeriod(): boolean {
    return Date.now() - this.startedAt < this.config.startPeriod
  }

  private schedule(): void {
    if (this.stopped) return
    const delay = this.inStartPeriod() && this.state.status === 'starting' ? this.config.startInterval : this.config.interval
    this.timer = setTimeout(() => void this.probe(), delay)
    this.timer.unref() // a check never keeps the Node process alive
  }

  private async probe(): Promise<void> {
    const result = await this.runOnce()
    if (this.stopped) return
    this.record(result)
    this.schedule()
  }

  /**
   * One check. A check past its timeout is killed (its whole process group)
   * and waited for, so dying checks never pile up; it fails with Docker's text.
   */
  private async runOnce(): Promise<HealthResult> {
    const start = new Date().toISOString()
    const cancel = new AbortController()
    const timer = setTimeout(() => cancel.abort(), this.config.timeout)
    const res = await this.exec(healthCommand(this.config.test), cancel.signal).catch((e: Error) => ({ exitCode: -1, stdout: '', stderr: e.message }))
    clearTimeout(timer)
    const output = cancel.signal.aborted ? `Health check exceeded timeout (${goDuration(this.config.timeout)})` : res.stdout + res.stderr
    return { start, end: new Date().toISOString(), exitCode: cancel.signal.aborted ? -1 : res.exitCode, output: output.slice(0, maxOutput) }
  }

  private record(result: HealthResult): void {
    const s = this.state
    const log = [...s.log, result].slice(-keptResults)
    if (result.exitCode === 0) this.state = { status: 'healthy', failingStreak: 0, log }
    else if (this.inStartPeriod() && s.status === 'starting') this.state = { ...s, log } // start period: not counted
    else {
      const failingStreak = s.failingStreak + 1
      this.state = { status: failingStreak >= this.config.retries ? 'unhealthy' : s.status, failingStreak, log }
    }
    writeJson(this.file, this.state)
  }
}
