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
  /** The text of the line, without its newline. */
  line: string
  /** 'stdout' or 'stderr'. */
  stream: LogStreamName
}

/** One health check run, as Docker's `State.Health.Log` keeps it. */
export interface HealthResult {
  /** When the check started, ISO 8601. */
  start: string
  /** When it ended, ISO 8601. */
  end: string
  /** The check's exit code: 0 healthy, anything else a failure; -1 when it timed out or could not run. */
  exitCode: number
  /** Its standard output then standard error, at most 4096 characters (the timeout message when it timed out). */
  output: string
}

/** `inspect().state.health`: Docker's status, failing streak, and last 5 results. */
export interface HealthState {
  /** 'starting' until the first success or `retries` failures, then 'healthy' or 'unhealthy' (Docker's `Health.Status`). */
  status: 'starting' | 'healthy' | 'unhealthy'
  /** Consecutive failed checks (failures in the start period are not counted); 0 after a success. */
  failingStreak: number
  /** The last 5 results, oldest first. */
  log: HealthResult[]
}

/** Result of a command run inside the container. */
export interface CommandResult {
  /** The command's exit code; 128 + the signal number when a signal killed it. */
  exitCode: number
  /** Its standard output (UTF-8). */
  stdout: string
  /** Its standard error (UTF-8). */
  stderr: string
}

/** The view of a container that wait strategies and health checks use. */
export interface WaitTarget {
  /** Full id of the container. */
  readonly id: string
  /** Name of the container, for messages. */
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
  endpoint(port: number): {
    /** Host address to connect to: loopback for a wildcard binding, else the binding's or the container's address. */
    host: string
    /** TCP port at that address. */
    port: number
  }
  /** Runs a command inside the container. */
  exec(cmd: string[]): Promise<CommandResult>
  /** The health state, when a health check is configured. */
  health(): HealthState | undefined
  /** Calls `listener` whenever the health state changes; returns the unsubscribe function. */
  watchHealth(listener: () => void): () => void
}
