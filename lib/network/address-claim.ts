/**
 * Choosing a container's address on a network and claiming it across
 * processes: the lowest free one (.2, .3...), or the requested static one.
 *
 * @module
 */
import { AddressInUseError } from './errors'
import { allocateIp, parseCidr, validateStaticIp } from './ipam'
import { ipKey, type Leases } from './leases'
import type { NetworkRecord } from './store'
import { describeLeaseOwner } from './warm-owner'

/**
 * Returns the address claimed for `owner` on `net`. `known` maps addresses
 * in use (from the records) to their container names, for validation and
 * messages; the claim files settle races with other processes.
 */
export function claimAddress(leases: Leases, net: NetworkRecord, owner: string, requested: string | undefined, known: Map<string, string>): string {
  const subnet = parseCidr(net.subnet)
  if (requested) {
    validateStaticIp(subnet, net.gateway, requested, known)
    if (!leases.claim(ipKey(net.id, requested), owner)) throw new AddressInUseError(requested, describeLeaseOwner(leases.owner(ipKey(net.id, requested))))
    return requested
  }
  const taken = new Set(known.keys())
  // Bounded: allocateIp throws once every address of the subnet is in `taken`.
  for (;;) {
    const ip = allocateIp(subnet, net.gateway, taken)
    if (leases.claim(ipKey(net.id, ip), owner)) return ip
    taken.add(ip)
  }
}
