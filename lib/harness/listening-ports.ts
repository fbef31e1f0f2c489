/**
 * Ready when every expected TCP port has a listening socket in the
 * container's network namespace, checked from the host (no exec, nothing
 * in the image). There is no event for "a socket started listening", so it
 * re-checks on each log line and on a backoff capped at 4 ms; a check reads
 * two small /proc files.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import { listeningTcpPorts } from './proc-net'
import { backoff, type WaitContext, type WaitStrategy } from './strategy'
import type { WaitTarget } from './target'

const maxProbeDelayMs = 4

/** Waits until TCP ports of the container's namespace are listening. */
export class ListeningPortsStrategy implements WaitStrategy {
  readonly awaitsExit = false

  /** @param ports - the container ports; default: its published and exposed TCP ports. */
  constructor(private readonly ports?: number[]) {}

  get description(): string {
    return this.ports ? `listening ports ${this.ports.map((p) => `${p}/tcp`).join(', ')}` : 'listening ports (published and exposed)'
  }

  async waitUntilReady(ctx: WaitContext): Promise<void> {
    const ports = this.expected(ctx.target)
    for (const delay of backoff(0.5, maxProbeDelayMs)) {
      if (ctx.signal.aborted) return
      if (allListening(ctx.target, ports)) return
      await ctx.changed(delay)
    }
  }

  private expected(target: WaitTarget): number[] {
    const ports = this.ports ?? target.tcpPorts()
    if (ports.length === 0)
      throw new InvalidArgumentError(`container ${target.name} publishes and exposes no TCP port: publish one (ports: ['6379']) or name them, e.g. Wait.forListeningPorts([6379])`)
    return ports
  }
}

/** True when every port listens in the target's namespace. */
export function allListening(target: WaitTarget, ports: number[]): boolean {
  const pid = target.runningPid()
  if (!pid) return false
  const listening = listeningTcpPorts(pid)
  return ports.every((p) => listening.has(p))
}
