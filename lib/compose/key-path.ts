/**
 * Key paths into a compose file, written as compose's messages write them:
 * services.api.ports[0]. Pure.
 *
 * @module
 */

/** A key path: mapping keys and list indexes. */
export type KeyPath = ReadonlyArray<string | number>

/** Writes a key path as compose does: services.api.ports[0]. */
export function formatPath(path: KeyPath): string {
  return path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${k}` : k), '')
}
