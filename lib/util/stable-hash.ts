/**
 * One hash of plain data for every key made from options or build steps
 * (reuse's configuration hash, compose's project hash, the build cache's
 * step keys): equal data gives equal hashes whatever the order of its
 * object keys.
 *
 * @module
 */
import * as crypto from 'node:crypto'

/** Keys in a stable order, so equal objects hash equally. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical)
  if (value && typeof value === 'object' && !Buffer.isBuffer(value))
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]))
  if (Buffer.isBuffer(value)) return value.toString('base64')
  return value
}

/** sha256 (hex) of plain data, equal for equal data whatever the order of its keys. */
export function stableHash(value: unknown): string {
  return crypto.createHash('sha256').update(JSON.stringify(canonical(value))).digest('hex')
}
