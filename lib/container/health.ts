/**
 * Starting a container's health checks when its program starts: the
 * record's check (the healthcheck option over the image's HEALTHCHECK). The checks stop when the
 * program exits; a restart starts them afresh ("starting").
 *
 * @module
 */
import { resolveHealthConfig } from '../harness/health-config'
import { HealthMonitor } from '../harness/health-monitor'
import type { CommandResult } from '../harness/target'
import type { ContainerRecord } from './types'

/**
 * Starts checking when a health check applies to the container. Nothing to remove first: the record's check
 * never changes, so a previous run's health.json exists only when a check applies, and the monitor's first
 * write ("starting") replaces it atomically.
 */
export function startHealthMonitor(record: ContainerRecord, file: string, exited: Promise<unknown>, exec: (cmd: string[], signal: AbortSignal) => Promise<CommandResult>): void {
  const config = resolveHealthConfig(record.config.healthcheck)
  if (!config) return
  const monitor = new HealthMonitor(config, exec, file)
  void exited.then(() => monitor.stop())
}
