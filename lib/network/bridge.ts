/**
 * A network's host side: its bridge (with the gateway address, up, and
 * route_localnet so published ports work on 127.0.0.1) and its firewall
 * rules. Both are (re)created on demand from the network record, so a
 * reboot or a crash in the middle never leaves a network unusable.
 *
 * @module
 */
import { macForIp, parseCidr } from './ipam'
import { checkLegacyForward } from './forward-accept'
import type { Firewall } from './nftables'
import { enableIpForward, formatMac, setIfaceSysctl, type Rtnl } from './rtnl'
import type { NetworkRecord } from './store'

/**
 * The bridge's own MAC, set rather than left to the kernel, and derived from the gateway's address like
 * a container's (macForIp). A bridge whose MAC was never set takes the lowest MAC among its ports, so it
 * changed whenever a veth came or went (each container, each warm endpoint): a container that had
 * resolved the gateway to the MAC of a port removed since sent to a MAC no longer the bridge's, and its
 * packets were dropped until its neighbour entry went stale, 15-45 s (issue 19: a rootless container's
 * connections through slirp4netns failing, or hanging at their close).
 */
function bridgeMac(net: Pick<NetworkRecord, 'gateway'>): Buffer {
  return macForIp(net.gateway)
}

/** Makes sure the bridge of `net` exists and is configured (up, with its own MAC); returns its ifindex. */
export async function ensureBridge(host: Rtnl, net: NetworkRecord, owner?: string, hostTuning = true): Promise<number> {
  const existing = await host.link(net.bridge)
  if (existing) {
    // A bridge made by an older version has a MAC of the kernel's choosing: set now, it stays.
    if (!existing.up || existing.mac !== formatMac(bridgeMac(net))) await host.setMacAndUp(existing.index, bridgeMac(net))
    return existing.index
  }
  // The owner mark (ifalias) outlives this process: another runtime can tell the bridge is abandoned.
  const index = await host.createBridge(net.bridge, owner)
  try {
    await host.addAddress(index, net.gateway, parseCidr(net.subnet).prefix)
    // Packets DNATed from 127.0.0.1 leave through the bridge with a loopback source; the kernel drops those unless allowed here.
    if (hostTuning) setIfaceSysctl(net.bridge, 'route_localnet', '1')
    await host.setMacAndUp(index, bridgeMac(net))
  } catch (err) {
    await host.deleteLink(net.bridge)
    throw err
  }
  return index
}

/**
 * Makes sure the firewall rules of `net` are installed (once), and its accept
 * rules in other firewalls' forward chains (checked on every call: Docker may
 * have started since).
 */
export async function ensureRules(fw: Firewall, net: NetworkRecord, hostTuning = true): Promise<void> {
  if (!(await fw.owners()).has(`net:${net.id}`)) {
    await fw.addNetwork({ id: net.id, bridge: net.bridge, subnet: parseCidr(net.subnet), internal: net.internal })
    // A private namespace's forwarding is its maker's (the rootless keeper turns it on).
    if (!net.internal && hostTuning) enableIpForward()
  }
  // Internal networks too: with br_netfilter, even traffic within one bridge passes the forward chains.
  await fw.openForward(net.bridge)
}

/**
 * Brings up the whole host side of `net`; on failure nothing new is left behind. `hostTuning`: in the
 * host's namespace, whose sysctls and legacy iptables are reached through /proc (see NetworkPlace).
 */
export async function ensureNetworkUp(host: Rtnl, fw: Firewall, net: NetworkRecord, owner?: string, hostTuning = true): Promise<number> {
  if (hostTuning) checkLegacyForward(net.bridge)
  const hadBridge = !!(await host.link(net.bridge))
  const index = await ensureBridge(host, net, owner, hostTuning)
  try {
    await ensureRules(fw, net, hostTuning)
  } catch (err) {
    if (!hadBridge) await host.deleteLink(net.bridge)
    throw err
  }
  return index
}

/** Removes the host side of `net` (rules and bridge); idempotent. */
export async function tearDownNetwork(host: Rtnl, fw: Firewall, net: NetworkRecord): Promise<void> {
  await fw.removeNetwork(net.id)
  await fw.closeForward((bridge) => bridge === net.bridge)
  await host.deleteLink(net.bridge)
}
