/**
 * Ready when every expected TCP port has a listening socket in the
 * container's network namespace, checked from the host (no exec, nothing
 * in the image). There is no event for "a socket started listening", so it
 * re-checks on each log line and on a backoff capped at 4 ms (probing every
 * millisecond measured 1-2 ms slower for redis on two cores: the probes' CPU
 * is the server's). A check is a sock_diag dump of the namespace's LISTEN
 * sockets (./namespace-listeners): tens of microseconds.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import { stamp, tracing } from '../util/start-trace'
import { NamespaceListeners } from './namespace-listeners'
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
    await untilListening(ctx, this.expected(ctx.target))
  }

  private expected(target: WaitTarget): number[] {
    const ports = this.ports ?? target.tcpPorts()
    if (ports.length === 0)
      throw new InvalidArgumentError(`container ${target.name} publishes and exposes no TCP port: publish one (ports: ['6379']) or name them, e.g. Wait.forListeningPorts([6379])`)
    return ports
  }
}

/** Resolves once every port in `ports` listens in the target's namespace, or when the wait is aborted. */
export async function untilListening(ctx: WaitContext, ports: number[]): Promise<void> {
  const listeners = new NamespaceListeners()
  try {
    let probe = 0
    for (const delay of backoff(0.5, maxProbeDelayMs)) {
      if (ctx.signal.aborted) return
      if (tracing()) stamp(`wait: probe ${++probe}`)
      if (allListening(ctx.target, ports, listeners)) return stamp('wait: listening seen')
      await ctx.changed(delay)
    }
  } finally {
    listeners.close()
  }
}

/** True when every port listens in the target's namespace. */
function allListening(target: WaitTarget, ports: number[], listeners: NamespaceListeners): boolean {
  const pid = target.runningPid()
  if (!pid) return false
  const listening = listeners.ports(pid)
  return ports.every((p) => listening.has(p))
}
