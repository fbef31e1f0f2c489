/**
 * What a wait strategy sees of a container: a narrow view, so strategies
 * depend on no container internals (the container layer builds it).
 *
 * @module
 */
import type { ExitStatus } from '../shim/shim'

/** Which output a log line came from. */
export type LogStreamName = 'stdout' | 'stderr'

/** One line of a container's output (without its newline). */
export interface LogLine {
  line: string
  stream: LogStreamName
}

/** One health check run, as Docker's `State.Health.Log` keeps it. */
export interface HealthResult {
  start: string
  end: string
  exitCode: number
  output: string
}

/** `inspect().state.health`: Docker's status, failing streak, and last 5 results. */
export interface HealthState {
  status: 'starting' | 'healthy' | 'unhealthy'
  failingStreak: number
  log: HealthResult[]
}

/** Result of a command run inside the container. */
export interface CommandResult {
  exitCode: number
  stdout: string
  stderr: string
}

/** The view of a container that wait strategies and health checks use. */
export interface WaitTarget {
  readonly id: string
  readonly name: string
  /** The host pid of the container's PID 1 while the program runs. */
  runningPid(): number | undefined
  /** Resolves when the program ends. */
  exited(): Promise<ExitStatus>
  /**
   * The output line by line, from the beginning, then as it arrives until
   * the program ends or `signal` aborts. With `persistent: false` the
   * following does not keep the Node process alive.
   */
  logLines(signal: AbortSignal, opts?: { persistent?: boolean }): AsyncIterable<LogLine>
  /** The last `n` lines of output, each prefixed by its stream. */
  lastLogLines(n: number): string[]
  /** The TCP ports the container serves: its published ports and the image's exposed ones. */
  tcpPorts(): number[]
  /** Where the host reaches a container TCP port (the published binding, else the container's address). */
  endpoint(port: number): { host: string; port: number }
  /** Runs a command inside the container. */
  exec(cmd: string[]): Promise<CommandResult>
  /** The health state, when a health check is configured. */
  health(): HealthState | undefined
  /** Calls `listener` whenever the health state changes; returns the unsubscribe function. */
  watchHealth(listener: () => void): () => void
}
