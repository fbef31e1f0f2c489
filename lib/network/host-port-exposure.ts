/**
 * `exposeHostPorts`: a service listening on the host's loopback (the app
 * under test) reached from containers as `host.minicontainer.internal:<port>`
 * (and `host.testcontainers.internal`, `host.docker.internal`, the names
 * testcontainers and Docker users already write), names for their network's
 * gateway, as testcontainers' `TestContainers.exposeHostPorts` gives. For each container asking, one relay per
 * network it joined and port (native/relay.c) listens on the gateway in the
 * namespace holding the bridges (the host's for root, the keeper's for a
 * rootless runtime) and connects to 127.0.0.1:<port> from the host's. Closed
 * by default: a gateway port is open while a container that asked for it
 * runs, and then to every container of that network (the gateway is theirs
 * too), as Docker's `host-gateway` opens every host port. Only from that
 * network: an input rule of the runtime's table (nftables.ts, `exp:<id>`)
 * drops what reaches `<gateway>:<port>` from any other interface but the
 * loopback (the host's own processes reach 127.0.0.1 anyway), so a
 * container of another network, or a LAN machine routing to the subnet,
 * does not reach the host's loopback through it.
 *
 * An app listening on every address (Node's `server.listen(port)`) already
 * serves the gateway: the relay cannot bind there, and none is needed; the
 * rule still keeps the other networks off that gateway (they reach the app on
 * their own gateway, as under Docker).
 *
 * @module
 */
import { SyscallError } from '../errors'
import { closeQuietly } from '../sys/libc'
import { boundSocket } from '../sys/sockets'
import { debug } from '../util/debug'
import { PortInUseError } from './errors'
import type { ExposureRule, Firewall } from './nftables'
import { ContainerRelays, startExposureRelay, type PortRelay } from './port-relay'

/** The host names an exposed port is reached by, inside the container. */
export const exposedHostNames = ['host.minicontainer.internal', 'host.testcontainers.internal', 'host.docker.internal']

/** Where the exposure relays listen, and the firewall restricting who reaches them. */
export interface ExposurePlace {
  /** The namespace holding the bridges (its path), undefined for this process's own. */
  listenNetns(): string | undefined
  /** Runs `fn` with the runtime's firewall (in that namespace), in turn with its other users. */
  withFirewall<T>(fn: (fw: Firewall) => Promise<T>): Promise<T>
  /** The bridge whose address `gateway` is. */
  bridgeOf(gateway: string): string
}

/** The exposure relays of one network service's containers, kept by this process (they end with it). */
export class HostPortExposure {
  private readonly relays = new ContainerRelays()
  /** Per container, its close under way. */
  private readonly closing = new Map<string, Promise<void>>()

  constructor(private readonly place: ExposurePlace) {}

  /** Opens `ports` on each of the container's `gateways`, to their own networks only; all or none. */
  async open(containerId: string, gateways: readonly string[], ports: readonly number[]): Promise<void> {
    const exposures: ExposureRule[] = gateways.flatMap((gateway) => {
      const bridge = this.place.bridgeOf(gateway)
      return ports.map((port) => ({ gateway, port, bridge }))
    })
    // The rules first: a relay is never reachable from another network, not even for a moment.
    await this.place.withFirewall((fw) => fw.addExposures(containerId, exposures))
    const starts = exposures.map((e) => async () => this.startRelay(containerId, e.gateway, e.port))
    try {
      await this.relays.add(containerId, starts)
    } catch (err) {
      await this.place.withFirewall((fw) => fw.removeExposures(containerId))
      throw err
    }
  }

  /** One relay, or none when a host app listening on every address already serves the gateway. */
  private async startRelay(containerId: string, listenIp: string, port: number): Promise<PortRelay | undefined> {
    const listenNetns = this.place.listenNetns()
    try {
      const relay = await startExposureRelay({ listenNetns, listenIp, port })
      debug('host port 127.0.0.1:%d exposed on %s for %s', port, listenIp, containerId.slice(0, 12))
      return relay
    } catch (err) {
      if (!(err instanceof SyscallError && err.errno === 'EADDRINUSE')) throw err
      if (listenNetns === undefined && listensOnEveryAddress(port)) {
        debug('host port %d already listens on %s (every address): no relay for %s', port, listenIp, containerId.slice(0, 12))
        return undefined
      }
      throw new PortInUseError(`${listenIp}:${port}/tcp`, 'a socket bound to that gateway address (exposeHostPorts relays the gateway to 127.0.0.1:' + port + ' and needs it free, unless the app listens on every address)')
    }
  }

  /**
   * Ends the container's relays and rules; idempotent, and a call while another is under way resolves
   * with it (once the rules are gone). A container this process did not expose has
   * none here (another process's rules go with its garbage collection), so most exits cost nothing.
   */
  close(containerId: string): Promise<void> {
    // A second close (remove() after the exit's release) finds the relays entry already taken: it
    // waits for the close under way, so that it too resolves once the rules are gone.
    const underWay = this.closing.get(containerId)
    if (underWay) return underWay
    const closing = this.closeOnce(containerId).finally(() => this.closing.delete(containerId))
    this.closing.set(containerId, closing)
    return closing
  }

  private async closeOnce(containerId: string): Promise<void> {
    // Every container's exit closes: only one this process exposed (its relays entry, even without a relay) has rules to remove.
    if (!(await this.relays.remove(containerId))) return
    await this.place.withFirewall((fw) => fw.removeExposures(containerId))
  }
}

/**
 * Whether a TCP socket holds `port` on every host address (an app's wildcard listener, which then
 * serves the gateway itself): 127.0.0.2, on no interface but loopback's /8 and bound by no one
 * else in practice, cannot be bound either. Synchronous, from this thread's namespace, the host's.
 */
function listensOnEveryAddress(port: number): boolean {
  try {
    closeQuietly(boundSocket('127.0.0.2', port, 'tcp').fd)
    return false
  } catch (err) {
    return err instanceof SyscallError && err.errno === 'EADDRINUSE'
  }
}
