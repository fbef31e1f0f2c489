/**
 * Who holds a warm endpoint's address lease (./warm-endpoints): an owner
 * naming its process, `warm-<pid>-<start>-<random>`, so that any runtime on
 * the root can tell the lease is no container's, whether its process still
 * runs, and which process to name in a refusal.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { livesOn, type ProcessIdentity } from '../util/process-identity'
import { ownerOf, processOwnedName } from '../util/process-owned-names'

const PREFIX = 'warm-'

/** A new owner for one pool's warm endpoints (two runtimes of one process differ by the random part). */
export function warmLeaseOwner(): string {
  return `${processOwnedName(PREFIX)}-${randomBytes(6).toString('hex')}`
}

/**
 * The owner of one endpoint's lease: the pool's owner and the endpoint's host veth, so that a
 * collector can tell whether the pair of a dead owner is still on the bridge (its address, and the
 * MAC derived from it, are not free until it is gone).
 */
export function warmEndpointOwner(poolOwner: string, hostVeth: string): string {
  return `${poolOwner}@${hostVeth}`
}

/** The host veth a warm endpoint's lease owner names; undefined for any other owner (or one of a release before veths were named). */
export function warmOwnerVeth(owner: string): string | undefined {
  return isWarmOwner(owner) ? /@([^@]+)$/.exec(owner)?.[1] : undefined
}

/** The process a warm owner names; undefined for any other owner. */
function processOf(owner: string): ProcessIdentity | undefined {
  return owner.startsWith(PREFIX) ? ownerOf(owner.slice(PREFIX.length)) : undefined
}

/** Whether `owner` is a warm endpoint's lease owner. */
export function isWarmOwner(owner: string): boolean {
  return processOf(owner) !== undefined
}

/** Whether `owner` is a warm endpoint's lease owner whose process no longer runs (or is being killed): its lease is free. */
export function isDeadWarmOwner(owner: string): boolean {
  const p = processOf(owner)
  return !!p && !livesOn(p.pid, p.start)
}

/** How a refusal names a lease's holder: a container (its short id), or the process keeping it warm. */
export function describeLeaseOwner(owner: string | undefined): string {
  const p = owner === undefined ? undefined : processOf(owner)
  return p ? `the next start of the runtime in process ${p.pid} on this root (kept warm until then)` : `container ${owner?.slice(0, 12)}`
}
