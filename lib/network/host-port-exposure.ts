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
 * too), as Docker's `host-gateway` opens every host port.
 *
 * @module
 */
import { debug } from '../util/debug'
import { ContainerRelays, startExposureRelay } from './port-relay'

/** The host names an exposed port is reached by, inside the container. */
export const exposedHostNames = ['host.minicontainer.internal', 'host.testcontainers.internal', 'host.docker.internal']

/** The exposure relays of one network service's containers, kept by this process (they end with it). */
export class HostPortExposure {
  private readonly relays = new ContainerRelays()

  /** @param listenNetns - the namespace holding the bridges (its path), undefined for this process's own. */
  constructor(private readonly listenNetns: () => string | undefined) {}

  /** Opens `ports` on each of the container's `gateways`, all or none. */
  open(containerId: string, gateways: readonly string[], ports: readonly number[]): Promise<void> {
    const starts = gateways.flatMap((listenIp) =>
      ports.map((port) => async () => {
        const relay = await startExposureRelay({ listenNetns: this.listenNetns(), listenIp, port })
        debug('host port 127.0.0.1:%d exposed on %s for %s', port, listenIp, containerId.slice(0, 12))
        return relay
      }),
    )
    return this.relays.add(containerId, starts)
  }

  /** Ends the container's relays; idempotent. */
  close(containerId: string): Promise<void> {
    return this.relays.remove(containerId)
  }
}
