/**
 * Owners an unpack could not give. A rootless runtime unpacks layers as the
 * user, who cannot chown a file to another id; with subordinate ids mapped
 * into its user namespace, the files get their owners afterwards, inside
 * that namespace, in one batched pass per layer (lib/rootless/keeper.ts).
 * The ledger is what the unpack saw: each entry's ids and mode, the last
 * write of a path winning, as on disk.
 *
 * @module
 */
import { encodeName } from '../sys/byte-names'

/** The owner and mode an archive gave one entry. */
export interface EntryOwner {
  uid: number
  gid: number
  /** Permission bits, set-id bits included (a chown clears them: they are set again after it). */
  mode: number
  /**
   * The file's capabilities (security.capability, e.g. ping's cap_net_raw), which a user cannot set
   * outside a user namespace and a chown clears: written after the owner, inside the namespace (the
   * kernel then scopes them to it).
   */
  caps?: Buffer
}

/**
 * Host ids as a user namespace's processes see them (a rootless container's writable layer, whose
 * files have host ids, committed as a layer of the ids inside).
 */
export interface InsideIds {
  uid(host: number): number
  gid(host: number): number
}

/** What gives a tree the owners of an {@link OwnerLedger}, and removes trees holding files of ids the process is not. */
export interface TreeOwnership {
  /** Gives the entries below `dir` the owners (and set-id modes) the ledger recorded. */
  restoreOwners(dir: string, ledger: OwnerLedger): void
  /** Removes `dir` and everything below it, whoever owns it (ENOENT is not an error). */
  removeTree(dir: string): void
}

/** The owners of an unpack's entries that are not root's (root inside being the user, who owns every file already). */
export class OwnerLedger {
  private readonly owners = new Map<string, EntryOwner>()

  /** Records `rel`'s owner (a later entry of the same path replaces it); root:root without capabilities needs nothing and is forgotten. */
  record(rel: string, owner: EntryOwner): void {
    this.owners.delete(rel) // re-added last: the order of the last writes
    if (owner.uid !== 0 || owner.gid !== 0 || owner.caps) this.owners.set(rel, owner)
  }

  /** Forgets `rel` and what was below it (a whiteout or an opaque directory removed them). */
  forget(rel: string): void {
    const below = rel === '' ? '' : `${rel}/`
    for (const key of this.owners.keys()) if (key === rel || key.startsWith(below)) this.owners.delete(key)
  }

  /** How many entries need an owner. */
  get size(): number {
    return this.owners.size
  }

  /** The entries, in the order of their last write. */
  entries(): IterableIterator<[string, EntryOwner]> {
    return this.owners.entries()
  }

  /** Gives `rel` another owner (an id squashed to root). */
  replace(rel: string, owner: EntryOwner): void {
    if (this.owners.has(rel)) this.owners.set(rel, owner)
  }

  /**
   * The ledger as the keeper reads it (native/keeper.c own_entry): "<uid> <gid> <octal mode> <caps in hex,
   * or -> <path>\0" per entry, the path as its bytes.
   */
  manifest(): Buffer {
    const parts: Buffer[] = []
    for (const [rel, o] of this.owners) {
      const caps = o.caps?.length ? o.caps.toString('hex') : '-'
      parts.push(Buffer.from(`${o.uid} ${o.gid} ${(o.mode & 0o7777).toString(8)} ${caps} `), encodeName(rel), Buffer.from([0]))
    }
    return Buffer.concat(parts)
  }
}
