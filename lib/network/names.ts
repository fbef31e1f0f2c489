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
 * Bridges (ifalias) and the table (userdata comment) also carry
 * `minicontainer:<root>`, so objects of a runtime whose root was deleted
 * are recognised and collected by any other runtime (abandoned.ts).
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

/** The mark on a runtime's bridges and table naming its root directory. */
export function ownerMark(root: string): string {
  return `${OWNER_MARK_PREFIX}${path.resolve(root)}`
}

/** The runtime root named by an owner mark; undefined when `mark` is not one. */
export function rootOfMark(mark: string | undefined): string | undefined {
  return mark?.startsWith(`${OWNER_MARK_PREFIX}/`) ? mark.slice(OWNER_MARK_PREFIX.length) : undefined
}

const OWNER_MARK_PREFIX = 'minicontainer:'

/** The runtime tag in one of our bridge or veth names (mc<tag>..., mcv<tag>...). */
export function tagOfLink(name: string): string | undefined {
  return /^mcv?([0-9a-f]{6})/.exec(name)?.[1]
}

/** Object names for the runtime with `tag`. */
export interface NetNames {
  tag: string
  /** `minicontainer:<root>` ({@link ownerMark}); "" when the root is not known. */
  owner: string
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
export function netNames(tag: string, root?: string): NetNames {
  const bridgePrefix = `mc${tag}`
  const vethPrefix = `mcv${tag}`
  return {
    tag,
    owner: root ? ownerMark(root) : '',
    bridgePrefix,
    vethPrefix,
    table: `minicontainer_${tag}`,
    defaultBridge: `${bridgePrefix}0`,
    bridgeFor: (networkId) => `${bridgePrefix}${networkId.slice(0, 7)}`,
    newVeth: () => `${vethPrefix}${randomBytes(3).toString('hex')}`,
  }
}
