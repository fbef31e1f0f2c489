/**
 * A parsed compose file's mappings: the one shape test every reader of the
 * tree shares (merging, key checks, normalisation). Pure.
 *
 * @module
 */

/** A mapping in the tree. */
export type Tree = Record<string, unknown>

/** Whether a value is a mapping (not a list, not null). */
export function isTree(v: unknown): v is Tree {
  return !!v && typeof v === 'object' && !Array.isArray(v)
}
