/**
 * Pure views over the stored records: inspect output for containers and
 * networks, and the hosts-file entries a container should see.
 *
 * @module
 */
import { parseCidr } from './ipam'
import type { HostEntry } from './hosts'
import { portKey } from './ports'
import { bindsIpv6, type ContainerNetRecord, type EndpointRecord, type NetworkRecord } from './store'
import type { EndpointSettings, NetworkInfo, NetworkSettings } from './types'

/** Inspect view of one endpoint. */
export function endpointSettings(ep: EndpointRecord, net: NetworkRecord): EndpointSettings {
  return { networkId: net.id, ipAddress: ep.ipAddress, gateway: net.gateway, macAddress: ep.macAddress, ipPrefixLen: parseCidr(net.subnet).prefix, aliases: [...ep.aliases] }
}

/**
 * Inspect view of a container's network state. A port published on every address is listed on
 * `0.0.0.0` and, when its `::` side was bound (kept in its binding), on `::`, as Docker's; `ipv6()`,
 * the host's IPv6 now, answers only for bindings recorded before that was kept (asked only then: a
 * file read, not on every start's path).
 */
export function networkSettings(rec: ContainerNetRecord, networks: NetworkRecord[], ipv6: () => boolean): NetworkSettings {
  const byId = new Map(networks.map((n) => [n.id, n]))
  const out: NetworkSettings = { ipAddress: '', gateway: '', macAddress: '', ipPrefixLen: 0, ports: {}, networks: {} }
  for (const ep of rec.endpoints) {
    const net = byId.get(ep.networkId)
    if (net) out.networks[net.name] = endpointSettings(ep, net)
  }
  const primary = rec.endpoints.find((e) => e.ifname === 'eth0') ?? rec.endpoints[0]
  const primaryNet = primary && byId.get(primary.networkId)
  if (primary && primaryNet) Object.assign(out, { ipAddress: primary.ipAddress, gateway: primaryNet.gateway, macAddress: primary.macAddress, ipPrefixLen: parseCidr(primaryNet.subnet).prefix })
  for (const p of rec.ports) {
    const hostPort = String(p.hostPort)
    const listed = out.ports[portKey(p.containerPort, p.proto)] ??= []
    if (p.hostIp) listed.push({ hostIp: p.hostIp, hostPort })
    else listed.push({ hostIp: '0.0.0.0', hostPort }, ...(bindsIpv6(p, ipv6) ? [{ hostIp: '::', hostPort }] : []))
  }
  return out
}

/** Inspect view of a network. */
export function networkInfo(net: NetworkRecord, containers: ContainerNetRecord[]): NetworkInfo {
  const info: NetworkInfo = { id: net.id, name: net.name, driver: 'bridge', bridge: net.bridge, subnet: net.subnet, gateway: net.gateway, internal: net.internal, labels: { ...net.labels }, created: net.created, containers: {} }
  for (const c of containers)
    for (const ep of c.endpoints)
      if (ep.networkId === net.id) info.containers[c.containerId] = { name: c.name, ipAddress: ep.ipAddress, macAddress: ep.macAddress, aliases: [...ep.aliases] }
  return info
}

/**
 * The names `rec` resolves through its hosts file: itself, its links, and
 * (user networks only, as in Docker) every peer on a network they share,
 * by name, aliases and short id.
 */
export function hostEntries(rec: ContainerNetRecord, all: ContainerNetRecord[], networks: NetworkRecord[]): HostEntry[] {
  const byId = new Map(networks.map((n) => [n.id, n]))
  const entries: HostEntry[] = []
  const primary = rec.endpoints[0]
  if (primary) entries.push({ ip: primary.ipAddress, names: [rec.hostname] })
  const gateway = primary && byId.get(primary.networkId)?.gateway
  if (gateway && rec.hostGatewayNames?.length) entries.push({ ip: gateway, names: rec.hostGatewayNames })
  for (const l of rec.links) entries.push({ ip: l.ip, names: [l.alias, l.name] })
  for (const ep of rec.endpoints) {
    if (byId.get(ep.networkId)?.isDefault !== false) continue
    entries.push({ ip: ep.ipAddress, names: [rec.name, ...ep.aliases] })
    for (const peer of all) {
      if (peer.containerId === rec.containerId) continue
      const peerEp = peer.endpoints.find((e) => e.networkId === ep.networkId)
      if (peerEp) entries.push({ ip: peerEp.ipAddress, names: [peer.name, ...peerEp.aliases, peer.containerId.slice(0, 12)] })
    }
  }
  return entries
}
