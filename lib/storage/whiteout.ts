/**
 * Overlay's whiteout as a layer directory holds it, read through fs.Stats.
 *
 * @module
 */
import type * as fs from 'node:fs'

/** A whiteout: overlay's character device 0:0, which hides the entry of that name in the layers below. */
export function isWhiteout(st: fs.Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0
}
