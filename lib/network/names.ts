/**
 * Names of the kernel objects one runtime owns, all derived from a short
 * tag hashed from the runtime's root directory, so two runtimes with
 * different roots never collide and a runtime recognises its own leftovers
 * after a crash.
 *
 *   bridges   mc<tag>0 (default network), mc<tag><7 hex of network id>
 *   veths     mcv<tag><6 hex>   (host side; "v" is not a hex digit, so no bridge name starts like this)
 *   nft table minicontainer_<tag>
 *
 * Interface names are at most 15 characters (IFNAMSIZ - 1).
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto'
import * as path from 'node:path'

/** Six hex digits identifying a runtime root. */
export function runtimeTag(root: string): string {
  return createHash('sha256').update(path.resolve(root)).digest('hex').slice(0, 6)
}

/** Object names for the runtime with `tag`. */
export interface NetNames {
  tag: string
  /** Prefix of every bridge of this runtime (and of nothing else of ours). */
  bridgePrefix: string
  /** Prefix of every host-side veth of this runtime. */
  vethPrefix: string
  table: string
  defaultBridge: string
  bridgeFor(networkId: string): string
  newVeth(): string
}

/** The names of one runtime's objects. */
export function netNames(tag: string): NetNames {
  const bridgePrefix = `mc${tag}`
  const vethPrefix = `mcv${tag}`
  return {
    tag,
    bridgePrefix,
    vethPrefix,
    table: `minicontainer_${tag}`,
    defaultBridge: `${bridgePrefix}0`,
    bridgeFor: (networkId) => `${bridgePrefix}${networkId.slice(0, 7)}`,
    newVeth: () => `${vethPrefix}${randomBytes(3).toString('hex')}`,
  }
}
