/**
 * How a container's published ports reach it: DNAT rules in the runtime's
 * table when its networks are in the host's namespace, or one relay process
 * per binding (port-relay.ts) when they are in a private namespace no host
 * rule can reach (a rootless runtime's). IPv6 host addresses are relayed in
 * both: a DNAT rule cannot turn `::1` into the container's IPv4 address, and
 * Docker's userland proxy serves them (`-p 8080:80` listens on `::` too).
 *
 * @module
 */
import { isIPv6 } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { debug } from '../util/debug'
import { stamp } from '../util/start-trace'
import type { Firewall } from './nftables'
import { bindPortRelay, ContainerRelays, type BoundRelay } from './port-relay'
import { hostHasIpv6, hostPortFree } from './port-probe'
import { bindsIpv6, type ContainerNetRecord, type PortBinding } from './store'

/** Makes and ends the forwarding of a container's published ports. */
export interface PortForwarding {
  /**
   * Makes `bindings` (resolved: host ports chosen and claimed) reach the container `self` (its
   * endpoints made), all or none: the host ports are held once it resolves, and served once
   * {@link serving} resolves too.
   */
  add(self: ContainerNetRecord, bindings: PortBinding[]): Promise<void>
  /**
   * Resolves once every relay of the container serves (a relay's start is not waited for in
   * {@link add}: a start awaits it beside the container's own); rejects with the first failure, after
   * which the caller removes the container's forwarding.
   */
  serving(containerId: string): Promise<void>
  /** Ends every forwarding of the container; idempotent. */
  remove(containerId: string): Promise<void>
  /**
   * After the container's links were deleted: resolves once the host ports of its `bindings` that
   * a relay ending with those links held are free (bounded), so that a release by a process other
   * than the relay's owner gives the port back by the time it resolves.
   */
  freed(bindings: PortBinding[]): Promise<void>
}

/** Relays ending with a deleted link do within milliseconds: past this, the port is someone else's. */
const linkedRelayEndMs = 1000

/**
 * DNAT rules in the runtime's nf_tables table (owned by the container: removed with its other rules)
 * for IPv4, and relays from the host's namespace for IPv6: an address such as `::1`, and `::` beside
 * the rule of a port published on every address.
 */
export function firewallForwarding(fw: () => Firewall): PortForwarding {
  // `-`: the relay connects from the namespace it started in, the host's, where root's bridges are.
  // It ends with the container's host veth: another process on the root may release the container
  // (its rules are shared, but the relay is this process's child), or it may end with its namespace;
  // and it outlives this process, as the container and its DNAT rule do (a detached container).
  const relays = relayForwarding(() => '-', true)
  return {
    add: async (self, bindings) => {
      const containerId = self.containerId
      // The relays' host sockets bound (their spawn not waited for: see serving), then the rule's batch.
      const [relayed, ruled] = await Promise.allSettled([
        relays.add(self, ipv6Side(bindings)).then(() => stamp('net: relays bound')),
        fw().addPorts(containerId, bindings.filter((b) => !isIPv6(b.hostIp))).then(() => stamp('net: rules added')),
      ])
      if (relayed.status === 'fulfilled' && ruled.status === 'fulfilled') return
      if (relayed.status === 'fulfilled') await relays.remove(containerId)
      if (ruled.status === 'fulfilled') await fw().removeContainer(containerId)
      throw relayed.status === 'rejected' ? relayed.reason : (ruled as PromiseRejectedResult).reason
    },
    serving: (containerId) => relays.serving(containerId),
    remove: async (containerId) => {
      await relays.remove(containerId)
      await fw().removeContainer(containerId)
    },
    freed: async (bindings) => {
      const deadline = Date.now() + linkedRelayEndMs
      for (const b of ipv6Side(bindings)) while (!(await hostPortFree(b.proto, b.hostIp, b.hostPort)) && Date.now() < deadline) await sleep(10)
    },
  }
}

/** The host end of the container's veth that reaches the binding's container address. */
function hostVethOf(self: ContainerNetRecord, b: PortBinding): string | undefined {
  return self.endpoints.find((e) => e.ipAddress === b.containerIp)?.hostVeth
}

/** The bindings a DNAT rule cannot serve: on an IPv6 address, and the `::` side of those on every address that bind it. */
function ipv6Side(bindings: PortBinding[]): PortBinding[] {
  return bindings.flatMap((b) => (!bindsIpv6(b, hostHasIpv6) ? [] : b.hostIp === '' ? [{ ...b, hostIp: '::' }] : [b]))
}

/**
 * A relay per binding into the namespace at `netnsPath()`, kept by this process (they end with it,
 * unless `outlivesOwner`: RelaySpec.outlivesOwner), each ending with the container's
 * host veth there: it is deleted when any process releases the container or its namespace ends,
 * also where the relay's owner cannot tell (a rootless runtime made in a worker_thread that ended,
 * whose relays the process keeps).
 */
export function relayForwarding(netnsPath: () => string, outlivesOwner = false): PortForwarding {
  // Its relays end with their container's link: forgotten then, whoever deleted it.
  const relays = new ContainerRelays({ forgetEnded: true })
  return {
    add: async (self, bindings) => {
      // Every host socket bound first (all or none), each relay then spawned off the caller's path.
      const bound: BoundRelay[] = []
      try {
        for (const b of bindings) bound.push(bindPortRelay({ netnsPath: netnsPath(), proto: b.proto, hostIp: b.hostIp, hostPort: b.hostPort, targetIp: b.containerIp, targetPort: b.containerPort, endWithLink: hostVethOf(self, b), outlivesOwner }))
      } catch (err) {
        for (const b of bound) b.abandon()
        throw err
      }
      relays.launch(self.containerId, bound)
      for (const b of bindings) debug('relay %s:%d/%s -> %s:%d for %s', b.hostIp || '0.0.0.0', b.hostPort, b.proto, b.containerIp, b.containerPort, self.containerId.slice(0, 12))
    },
    serving: (containerId) => relays.serving(containerId),
    remove: async (containerId) => void (await relays.remove(containerId)),
    // Its relays end in remove().
    freed: async () => {},
  }
}
