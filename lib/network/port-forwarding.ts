/**
 * How a container's published ports reach it: DNAT rules in the runtime's
 * table when its networks are in the host's namespace, or one relay process
 * per binding (port-relay.ts) when they are in a private namespace no host
 * rule can reach (a rootless runtime's).
 *
 * @module
 */
import { debug } from '../util/debug'
import type { Firewall } from './nftables'
import { ContainerRelays, startPortRelay } from './port-relay'
import type { PortBinding } from './store'

/** Makes and ends the forwarding of a container's published ports. */
export interface PortForwarding {
  /** Makes `bindings` (resolved: host ports chosen and claimed) reach the container, all or none. */
  add(containerId: string, bindings: PortBinding[]): Promise<void>
  /** Ends every forwarding of the container; idempotent. */
  remove(containerId: string): Promise<void>
}

/** DNAT rules in the runtime's nf_tables table (owned by the container: removed with its other rules). */
export function firewallForwarding(fw: () => Firewall): PortForwarding {
  return {
    add: (containerId, bindings) => fw().addPorts(containerId, bindings),
    remove: async (containerId) => void (await fw().removeContainer(containerId)),
  }
}

/** A relay per binding into the namespace at `netnsPath()`, kept by this process (they end with it). */
export function relayForwarding(netnsPath: () => string): PortForwarding {
  const relays = new ContainerRelays()
  return {
    add: (containerId, bindings) =>
      relays.add(
        containerId,
        bindings.map((b) => async () => {
          const spec = { netnsPath: netnsPath(), proto: b.proto, hostIp: b.hostIp, hostPort: b.hostPort, targetIp: b.containerIp, targetPort: b.containerPort }
          const relay = await startPortRelay(spec)
          debug('relay %s:%d/%s -> %s:%d for %s', b.hostIp || '0.0.0.0', b.hostPort, b.proto, b.containerIp, b.containerPort, containerId.slice(0, 12))
          return relay
        }),
      ),
    remove: async (containerId) => void (await relays.remove(containerId)),
  }
}
