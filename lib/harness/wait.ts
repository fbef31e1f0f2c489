/**
 * `Wait`: the factory of wait strategies, named like testcontainers-node's.
 *
 * ```ts
 * await run('host', ['redis-server', '--save', ''], { ports: ['6379'], waitFor: Wait.forListeningPorts() })
 * ```
 *
 * @module
 */
import { AllStrategy, AnyStrategy } from './composite'
import { ExitStrategy, type ExitWaitOptions } from './exit'
import { HealthCheckStrategy } from './health-check'
import { HttpStrategy, type HttpWaitOptions } from './http'
import { ListeningPortsStrategy } from './listening-ports'
import { LogMessageStrategy, type LogMessageOptions } from './log-message'
import type { WaitStrategy } from './strategy'
import { SuccessfulCommandStrategy } from './successful-command'

/** Ways of telling that a container is ready, for run's `waitFor` and `c.waitFor()`. */
export const Wait = {
  /** Every given TCP port (default: every published and exposed one) listens in the container's network namespace, checked from the host. */
  forListeningPorts(ports?: number[]): WaitStrategy {
    return new ListeningPortsStrategy(ports)
  },
  /** A log line matches `pattern` (a RegExp or a substring), `times` times, on stdout, stderr or both. */
  forLogMessage(pattern: RegExp | string, opts?: LogMessageOptions): WaitStrategy {
    return new LogMessageStrategy(pattern, opts)
  },
  /** An HTTP request to container port `port` answers with the expected status (and body). */
  forHttp(path: string, port: number, opts?: HttpWaitOptions): WaitStrategy {
    return new HttpStrategy(path, port, opts)
  },
  /** The health check (the image's HEALTHCHECK or run's `healthcheck`) reports healthy. */
  forHealthCheck(): WaitStrategy {
    return new HealthCheckStrategy()
  },
  /** A command run inside the container exits 0. */
  forSuccessfulCommand(cmd: string[]): WaitStrategy {
    return new SuccessfulCommandStrategy(cmd)
  },
  /** The program exits (with `exitCode`, when given): for one-shot jobs. */
  forExit(opts?: ExitWaitOptions): WaitStrategy {
    return new ExitStrategy(opts)
  },
  /** Every strategy is satisfied (they wait in parallel). */
  forAll(strategies: WaitStrategy[]): WaitStrategy {
    return new AllStrategy(strategies)
  },
  /** The first strategy to be satisfied wins. */
  forAny(strategies: WaitStrategy[]): WaitStrategy {
    return new AnyStrategy(strategies)
  },
}
