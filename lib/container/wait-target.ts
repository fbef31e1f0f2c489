/**
 * The view of a container that wait strategies and health checks use
 * (lib/harness/target.ts), built from the container's files, state and
 * network settings.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { InvalidArgumentError } from '../errors'
import { readHealth } from '../harness/health-monitor'
import type { WaitTarget } from '../harness/target'
import type { NetworkSettings } from '../network/types'
import type { ExitStatus } from '../shim/shim'
import { followLines, lastLines } from './log-lines'
import type { ContainerPaths } from './store'
import type { ContainerState, ExecResult, NetworkMode } from './types'

/** What the container gives to build its wait target. */
export interface TargetSource {
  id: string
  name: string
  paths: ContainerPaths
  networkMode: NetworkMode
  exposedPorts: string[]
  state(): ContainerState
  ended(): Promise<ExitStatus>
  exec(cmd: string[]): Promise<ExecResult>
  settings(): NetworkSettings
}

function tcpPortsOf(src: TargetSource): number[] {
  const keys = [...Object.keys(src.settings().ports), ...src.exposedPorts]
  const ports = keys.filter((k) => !k.endsWith('/udp')).map((k) => parseInt(k, 10))
  return [...new Set(ports)].sort((a, b) => a - b)
}

/** Loopback for a wildcard binding: the DNAT rules answer there. */
function reachable(hostIp: string): string {
  if (hostIp === '' || hostIp === '0.0.0.0') return '127.0.0.1'
  if (hostIp === '::') return '::1'
  return hostIp
}

function endpointOf(src: TargetSource, port: number): { host: string; port: number } {
  if (src.networkMode === 'host') return { host: '127.0.0.1', port }
  const settings = src.settings()
  const binding = settings.ports[`${port}/tcp`]?.[0]
  if (binding) return { host: reachable(binding.hostIp), port: Number(binding.hostPort) }
  if (settings.ipAddress) return { host: settings.ipAddress, port }
  throw new InvalidArgumentError(`port ${port} of container ${src.name} is not reachable from the host: publish it (ports: ['${port}']) or use a bridge network`)
}

function watchHealth(src: TargetSource, listener: () => void): () => void {
  const file = path.basename(src.paths.health)
  // The state file is replaced by rename: watch the directory for its name.
  const watcher = fs.watch(src.paths.dir, { persistent: false }, (_event, name) => {
    if (name === file) listener()
  })
  watcher.on('error', () => {})
  return () => watcher.close()
}

/** Builds the wait target of a container. */
export function waitTarget(src: TargetSource): WaitTarget {
  const logFile = src.paths.log
  return {
    id: src.id,
    name: src.name,
    runningPid: () => {
      const s = src.state()
      return s.status === 'running' ? s.pid : undefined
    },
    exited: () => src.ended(),
    logLines: (signal, opts) => followLines(logFile, src.ended(), signal, opts?.persistent ?? true),
    lastLogLines: (n) => lastLines(logFile, n),
    tcpPorts: () => tcpPortsOf(src),
    endpoint: (port) => endpointOf(src, port),
    exec: (cmd) => src.exec(cmd),
    health: () => readHealth(src.paths.health),
    watchHealth: (listener) => watchHealth(src, listener),
  }
}
