/**
 * Published ports: turns `-p` / `-P` requests into concrete host bindings
 * (checking that no host process and no other container holds the port,
 * and picking free ephemeral ports), then installs them all or none (DNAT
 * rules in one batch, or relays: port-forwarding.ts).
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import { PortInUseError } from './errors'
import { portKey as leaseKey, type Leases } from './leases'
import type { PortForwarding } from './port-forwarding'
import { stamp } from '../util/start-trace'
import { hostHasIpv6, hostPortFree, pickFreePort } from './port-probe'
import { bindingsCollide, exposedToRequest, parsePortSpec, type PortRequest } from './ports'
import type { ContainerNetRecord, PortBinding } from './store'
import type { ConnectOptions } from './types'

function describe(b: { hostIp: string; hostPort: number; proto: string }): string {
  return `${b.hostIp || '0.0.0.0'}:${b.hostPort}/${b.proto}`
}

/** Resolves and installs a container's published ports. */
export class PortPublisher {
  /** @param forwarding - how ports reach containers; @param containers - every container's current record. */
  constructor(
    private readonly forwarding: PortForwarding,
    private readonly leases: Leases,
    private readonly containers: () => ContainerNetRecord[],
  ) {}

  /** The requests of `ports` plus, with `publishAll`, one ephemeral binding per exposed port not already published. */
  requests(opts: ConnectOptions): PortRequest[] {
    const explicit = (opts.ports ?? []).flatMap(parsePortSpec)
    if (!opts.publishAll) return explicit
    const exposed = (opts.exposedPorts ?? []).map(exposedToRequest)
    return [...explicit, ...exposed.filter((e) => !explicit.some((x) => x.containerPort === e.containerPort && x.proto === e.proto))]
  }

  /** Who (other than `self`) already publishes a colliding binding, if anyone. */
  private owner(b: { hostIp: string; hostPort: number; proto: 'tcp' | 'udp' }, self: ContainerNetRecord, pending: PortBinding[]): string | undefined {
    if (pending.some((p) => bindingsCollide(p, b))) return 'this container (published twice)'
    const other = this.containers().find((c) => c.containerId !== self.containerId && c.ports.some((p) => bindingsCollide(p, b)))
    return other && `container ${other.name}`
  }

  private async resolve(req: PortRequest, self: ContainerNetRecord, containerIp: string, pending: PortBinding[]): Promise<PortBinding> {
    // Every address: `::` too where the host has IPv6, kept in the record (inspect lists what was bound).
    const base = { proto: req.proto, hostIp: req.hostIp, containerPort: req.containerPort, containerIp, ...(req.hostIp === '' ? { ipv6: hostHasIpv6() } : {}) }
    if (req.hostPort === 0) return { ...base, hostPort: await this.ephemeral(base, self, pending) }
    const b = { ...base, hostPort: req.hostPort }
    const owner = this.owner(b, self, pending)
    if (owner) throw new PortInUseError(describe(b), owner)
    if (!(await hostPortFree(req.proto, req.hostIp, req.hostPort))) throw new PortInUseError(describe(b), 'a process on the host')
    if (!this.leases.claim(leaseKey(b.proto, b.hostPort), self.containerId)) throw new PortInUseError(describe(b), 'a container of another process on this runtime')
    return b
  }

  /** A free host port, claimed for `self` (bounded retries: another process may claim the same one). */
  private async ephemeral(base: Omit<PortBinding, 'hostPort'>, self: ContainerNetRecord, pending: PortBinding[]): Promise<number> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const port = await pickFreePort(base.proto, base.hostIp, (p) => !!this.owner({ ...base, hostPort: p }, self, pending))
      if (port === null) break
      if (this.leases.claim(leaseKey(base.proto, port), self.containerId)) return port
    }
    throw new PortInUseError(describe({ ...base, hostPort: 0 }), 'everyone: no free ephemeral port was found')
  }

  /** Resolves every request and installs all of them atomically (relays serve once `forwarding.serving` resolves); returns the bindings. */
  async publish(self: ContainerNetRecord, containerIp: string, requests: PortRequest[]): Promise<PortBinding[]> {
    const bindings: PortBinding[] = []
    for (const req of requests) {
      try {
        bindings.push(await this.resolve(req, self, containerIp, bindings))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL') throw new InvalidArgumentError(`cannot publish on ${req.hostIp}: it is not an address of this host`)
        throw err
      }
    }
    stamp('net: ports resolved')
    await this.forwarding.add(self, bindings)
    return bindings
  }

  /** Removes the bindings that target `ip` (after its network was detached), keeping the others. */
  async unpublishIp(self: ContainerNetRecord, ip: string): Promise<void> {
    const keep = self.ports.filter((p) => p.containerIp !== ip)
    await this.forwarding.remove(self.containerId)
    await this.forwarding.add(self, keep)
    await this.forwarding.serving(self.containerId)
    for (const p of self.ports) if (p.containerIp === ip) this.leases.release(leaseKey(p.proto, p.hostPort), self.containerId)
    self.ports = keep
  }
}
