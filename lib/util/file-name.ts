/**
 * A file name for a key that may be longer than a file name can be: Docker
 * accepts container and network names of any length, while Linux file
 * systems take at most 255 bytes per name (NAME_MAX), so the stores that
 * keep one file per name (container names, network name claims) name the
 * file after a hash of a long name.
 *
 * @module
 */
import { createHash } from 'node:crypto'

/** NAME_MAX of Linux file systems, in bytes. */
const nameMax = 255
/** What a long name keeps of itself before the hash, so its file stays recognisable. */
const keptPrefix = nameMax - 1 - 64

/**
 * `key` itself when it fits in a file name; else its first characters, "+"
 * and the sha256 of the whole key. Keys are Docker names (letters, digits,
 * "_", "." and "-"), which never hold "+": a hashed file never collides with a short key's.
 */
export function boundedFileName(key: string): string {
  if (Buffer.byteLength(key) <= nameMax) return key
  return `${key.slice(0, keptPrefix)}+${createHash('sha256').update(key).digest('hex')}`
}
