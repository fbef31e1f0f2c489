/**
 * A published port as a relay process ("proxy" mode, for rootless runtimes,
 * where no DNAT rule on the host can reach the runtime's network namespace,
 * and for IPv6 host addresses, which no DNAT rule turns into the container's
 * IPv4 one: Docker's userland proxy serves those too).
 *
 * Node binds the host socket itself, so a taken port is EPORTINUSE and a
 * privileged one EPORTPRIVILEGED exactly as the caller asked, then hands the
 * socket to mc-shim relay (native/relay.c), which joins the namespace and
 * forwards each TCP connection (splice, half-close aware) or UDP flow to the
 * container's address there. The relay ends when {@link PortRelay.close} is
 * called or its owner process dies (its control socket closes either way; it
 * is held with libc, so not when the worker_thread that started it ends), or
 * when its {@link RelaySpec.endWithLink} is deleted; one that
 * {@link RelaySpec.outlivesOwner} (in a session of its own) does not end with
 * its owner, as the container does not.
 *
 * Its start is not waited for on a container's start path: the host sockets
 * listen before the relay is spawned, so a client arriving before it serves
 * waits in their backlog, and {@link PortRelay.serving} tells when it does.
 *
 * @module
 */
import { isIPv6, type Socket } from 'node:net'
import { InvalidArgumentError, SyscallError } from '../errors'
import { adoptChild, type LastingChild } from '../sys/lasting-children'
import { closeQuietly, reapEnded } from '../sys/libc'
import { signalQuietly } from '../sys/signal-quietly'
import { boundSocket, type BoundSocket } from '../sys/sockets'
import { spawnHeldModeProcess } from '../shim/mode-process'
import { PortInUseError } from './errors'
import { checkPortPrivilege, unprivilegedPortStart } from './port-privilege'
import { hostHasIpv6 } from './port-probe'

/** The relay joins and says it is ready within milliseconds; silence this long means it is stuck. */
const startTimeoutMs = 5000
/** A UDP flow (one client address) with no datagram either way for this long is closed, as Docker's proxy does. */
const defaultUdpIdleMs = 30_000

/** What one relay forwards. */
export interface RelaySpec {
  /** The network namespace the relay joins, where `targetIp` is reachable (/proc/<pid>/ns/net...). */
  netnsPath: string
  /** TCP or UDP. */
  proto: 'tcp' | 'udp'
  /** Host address to listen on ("127.0.0.1", "::1", "::"; "" means every address: 0.0.0.0 and, where the host has IPv6, `::`). */
  hostIp: string
  /** Host port; 0 picks a free one. */
  hostPort: number
  /** The container's IPv4 address inside the namespace. */
  targetIp: string
  /** The container's port. */
  targetPort: number
  /** UDP only: close a client's flow after this long without traffic (default {@link defaultUdpIdleMs}). */
  udpIdleMs?: number
  /**
   * A link of the namespace the relay connects from (the container's host veth: root's in the
   * namespace it starts in, rootless in the runtime's, joined) whose deletion ends the relay: the
   * container released by any process on the runtime root, or its namespace gone with its last
   * process. Without it, {@link PortRelay.close} or the owner's death end it.
   */
  endWithLink?: string
  /**
   * With {@link endWithLink}: the relay outlives its owner (a detached container keeps its port),
   * ending with the link or {@link PortRelay.close} only (root's `[::]` side, whose container and
   * DNAT rule outlive the publishing process too).
   */
  outlivesOwner?: boolean
}

/** A running relay. */
export interface PortRelay {
  /** The host port it listens on (the one asked for, or the one picked for 0). */
  readonly hostPort: number
  /** The relay's pid. */
  readonly pid: number
  /** Resolves when the relay process has ended (closed, or died). */
  readonly ended: Promise<void>
  /** Resolves once the relay serves (its host sockets listen from the start); rejects with its failure to start. */
  readonly serving: Promise<void>
  /** Ends the relay: the host port is free once this resolves; open connections are cut. */
  close(): Promise<void>
}

function describe(ip: string, port: number, proto: string): string {
  return `${isIPv6(ip) ? `[${ip}]` : ip}:${port}/${proto}`
}

/** Binds one host socket, with the library's errors for a taken, privileged or foreign address. */
function bindHost(ip: string, port: number, proto: RelaySpec['proto']): BoundSocket {
  const unprivilegedStart = unprivilegedPortStart()
  const name = describe(ip, port, proto)
  checkPortPrivilege(name, port, { euid: process.geteuid?.() ?? 0, unprivilegedStart })
  try {
    return boundSocket(ip, port, proto)
  } catch (err) {
    const errno = err instanceof SyscallError ? err.errno : ''
    if (errno === 'EADDRINUSE') throw new PortInUseError(name, 'a process on the host')
    if (errno === 'EACCES') checkPortPrivilege(name, port, { euid: -1, unprivilegedStart })
    if (errno === 'EADDRNOTAVAIL' || errno === 'EINVAL' || errno === 'EAFNOSUPPORT') throw new InvalidArgumentError(`cannot publish on ${ip}: it is not an address of this host`)
    throw err
  }
}

/**
 * The host sockets of `spec`: its one address, or for every address ("") 0.0.0.0 and `::` on the
 * same port, as Docker's two proxies of `-p 8080:80` listen (`::` left out on a host without IPv6).
 */
function bindHostSockets(spec: RelaySpec): BoundSocket[] {
  if (spec.hostIp) return [bindHost(spec.hostIp, spec.hostPort, spec.proto)]
  const v4 = bindHost('0.0.0.0', spec.hostPort, spec.proto)
  if (!hostHasIpv6()) return [v4]
  try {
    return [v4, bindHost('::', v4.port, spec.proto)]
  } catch (err) {
    closeQuietly(v4.fd)
    throw err
  }
}

/** Binds the host port and starts its relay into `spec.netnsPath`; resolves once the relay serves. */
export async function startPortRelay(spec: RelaySpec): Promise<PortRelay> {
  return served(await bindPortRelay(spec).spawn())
}

/** A relay's host sockets, bound and listening; its process not spawned yet. */
export interface BoundRelay {
  /** Spawns the relay, handing it the sockets (closed here then); resolves once spawned, before it serves ({@link PortRelay.serving}). */
  spawn(): Promise<PortRelay>
  /** Closes the sockets of a relay that will not be spawned. */
  abandon(): void
}

/**
 * Binds the host port of `spec` now (so EPORTINUSE and the like are thrown here, synchronously),
 * its relay to be spawned: a client connecting meanwhile waits in the sockets' backlog.
 */
export function bindPortRelay(spec: RelaySpec): BoundRelay {
  const hosts = bindHostSockets(spec)
  const closeHosts = (): void => {
    for (const h of hosts) closeQuietly(h.fd)
  }
  return {
    async spawn() {
      try {
        const idle = String(spec.udpIdleMs ?? defaultUdpIdleMs)
        const args = ['relay', spec.netnsPath, spec.proto, spec.targetIp, String(spec.targetPort), idle, ...(spec.endWithLink ? [spec.endWithLink] : [])]
        return await relayProcess(args, hosts.map((h) => h.fd), hosts[0]!.port, spec.endWithLink !== undefined && spec.outlivesOwner === true)
      } finally {
        // The relay holds the sockets now: when it ends, the port is free.
        closeHosts()
      }
    },
    abandon: closeHosts,
  }
}

/** What an exposed host port's relay listens on and reaches. */
export interface ExposureSpec {
  /** The namespace whose address it listens on (the keeper's); undefined: this process's own (the host's). */
  listenNetns: string | undefined
  /** The address there (a network's gateway). */
  listenIp: string
  /** The port, the same on both sides: the host's loopback port a container reaches at the gateway. */
  port: number
}

/**
 * Starts a relay listening on `listenIp:port` in `listenNetns` (made by the relay itself, shared
 * through SO_REUSEPORT with the other relays of the same port and network) that connects to
 * 127.0.0.1:port from this process's namespace, the host's; resolves once it serves.
 */
export async function startExposureRelay(spec: ExposureSpec): Promise<PortRelay> {
  // `-`: the relay's own namespace, which it inherited from this thread at spawn (never inside a
  // withNetns, which is synchronous). Not /proc/<pid>/ns/net: read later by the relay, that is the
  // main thread's namespace at that moment, a container's while another start is in a withNetns.
  const listenNetns = spec.listenNetns ?? '-'
  // The relay makes its listener itself: it is the relay's start that says whether the port was free.
  return served(await relayProcess(['relay', '-', 'tcp', '127.0.0.1', String(spec.port), '0', listenNetns, spec.listenIp, String(spec.port)], [], spec.port, false))
}

/** `relay` once it serves; ended (reaped once its control socket closed) if it failed to. */
async function served(relay: PortRelay): Promise<PortRelay> {
  await relay.serving
  return relay
}

/**
 * Spawns `mc-shim relay ...` and wraps it: ended when its control socket closed (it exited) and it was reaped, closed
 * by shutting that down for writing. Our end is held by the process, not the calling thread's event
 * loop: a relay started in a worker_thread serves on once that worker ended (until the process dies,
 * or its link is deleted), and it is reaped by the lasting thread (adoptChild), since no event loop
 * may be left to reap it then.
 * `outlivesOwner`: it runs in a session of its own and ends on its link's deletion, not when the
 * control socket closes; {@link PortRelay.close} ends it with a signal.
 */
async function relayProcess(args: string[], fds: number[], hostPort: number, outlivesOwner: boolean): Promise<PortRelay> {
  const { pid, control, ready, held } = await spawnHeldModeProcess(args, fds, startTimeoutMs, outlivesOwner)
  control.unref()
  const child = adoptHeld(pid, held, control)
  // Its end of the control socket closes while it exits, before the exit completes: ended once reaped.
  const ended = new Promise<void>((resolve) => control.once('close', () => resolve(child.reaped())))
  return {
    hostPort,
    pid,
    ended,
    serving: ready,
    close() {
      // Not control.destroy(): its close, when the relay's end closes, is what says the relay exited.
      // Held while awaited (it is unref'd otherwise): a caller with nothing else left on its event loop
      // would exit before its close resolved (port-relay.test's rootless case, once its server had exited).
      control.ref()
      child.end(outlivesOwner)
      return ended
    },
  }
}

/** {@link adoptChild} for a relay just spawned; one that cannot be adopted is killed and reaped here, and the error thrown. */
function adoptHeld(pid: number, held: number, control: Socket): LastingChild {
  try {
    return adoptChild(pid, held)
  } catch (err) {
    signalQuietly(pid, 'SIGKILL')
    closeQuietly(held)
    control.destroy()
    reapEnded(pid)
    throw err
  }
}

/** How a {@link ContainerRelays} keeps its containers. */
export interface ContainerRelaysOptions {
  /**
   * Forget a container once every relay of it served and ended by itself (relays ending with its link:
   * another process released it, and this one never will); a failed relay keeps it, for
   * {@link ContainerRelays.serving} to report. Off (the default) where an entry also stands for rules to
   * remove on release.
   */
  forgetEnded?: boolean
}

/** Relays kept per container by this process (they end with it, but for those that end with a link). */
export class ContainerRelays {
  /** Per container, its relays being spawned or spawned (rejected: a spawn that failed). */
  private readonly relays = new Map<string, Promise<PortRelay | undefined>[]>()
  /** Per container, how many of its relays may still serve (spawning, or served and not ended). */
  private readonly live = new WeakMap<Promise<PortRelay | undefined>[], number>()

  private readonly forgetEnded: boolean

  /** @param opts - see {@link ContainerRelaysOptions}. */
  constructor(opts: ContainerRelaysOptions = {}) {
    this.forgetEnded = opts.forgetEnded ?? false
  }

  /** How many containers have relays kept here. */
  get size(): number {
    return this.relays.size
  }

  /** Starts each relay in turn for the container (a start may find none needed), all or none; see {@link serving}. */
  async add(containerId: string, starts: readonly (() => Promise<PortRelay | undefined>)[]): Promise<void> {
    try {
      for (const start of starts) await this.keep(containerId, start())
    } catch (err) {
      await this.remove(containerId)
      throw err
    }
  }

  /**
   * Takes relays of the container whose sockets are bound and spawns them without waiting (their
   * spawn fails into {@link serving}): a start's path pays no process spawn.
   */
  launch(containerId: string, bound: readonly BoundRelay[]): void {
    for (const b of bound) void this.keep(containerId, b.spawn())
  }

  /** Adds `relay` to the container's; returns it, handled (its failure is reported by whoever awaits it or {@link serving}). */
  private keep(containerId: string, relay: Promise<PortRelay | undefined>): Promise<PortRelay | undefined> {
    const own = this.relays.get(containerId) ?? []
    this.relays.set(containerId, own)
    own.push(relay)
    relay.catch(() => {})
    if (this.forgetEnded) this.forgetOnceEnded(containerId, own, relay)
    return relay
  }

  /** Counts `relay` live in `own` until it served and ended; forgets the container when none is left. */
  private forgetOnceEnded(containerId: string, own: Promise<PortRelay | undefined>[], relay: Promise<PortRelay | undefined>): void {
    this.live.set(own, (this.live.get(own) ?? 0) + 1)
    relay
      .then((r) => r && r.serving.then(() => r.ended))
      .then(() => {
        const left = this.live.get(own)! - 1
        this.live.set(own, left)
        if (left === 0 && this.relays.get(containerId) === own) this.relays.delete(containerId)
      }, () => {})
  }

  /** Resolves once every relay of the container serves; rejects with the first failure to (the caller then removes them). */
  async serving(containerId: string): Promise<void> {
    await Promise.all((this.relays.get(containerId) ?? []).map(async (r) => (await r)?.serving))
  }

  /** Ends every relay of the container; idempotent. Resolves whether it had been added here (with or without a relay). */
  async remove(containerId: string): Promise<boolean> {
    const own = this.relays.get(containerId)
    this.relays.delete(containerId)
    await Promise.all((own ?? []).map((r) => r.then((relay) => relay?.close(), () => {})))
    return own !== undefined
  }
}
