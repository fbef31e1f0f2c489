/**
 * Hashes of build context files, remembered in this process by the file's
 * stat identity (device, inode, size, mtime, ctime), so a rebuild hashes
 * only the files that changed, as BuildKit's content hash cache does. Any
 * write to a file moves its ctime; a file written so recently that a
 * second write could land in the same timestamp tick is not remembered
 * (git's "racy" rule), so a remembered hash is never stale.
 *
 * @module
 */
import type * as fs from 'node:fs'

/** How old a file's last change must be for its hash to be remembered (well above any filesystem's timestamp granularity). */
const settledMs = 1000
const maxEntries = 100_000
const hashes = new Map<string, string>()

/** The identity under which a file's hash may be remembered, from its (l)stat. */
export function statIdentity(st: fs.Stats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`
}

/** The hash remembered for a file of this identity, if any. */
export function rememberedHash(identity: string): string | undefined {
  return hashes.get(identity)
}

/** Remembers a file's hash, unless it changed too recently to be sure the identity will move on its next change. */
export function rememberHash(identity: string, ctimeMs: number, hash: string): void {
  if (Date.now() - ctimeMs < settledMs) return
  if (hashes.size >= maxEntries) hashes.clear()
  hashes.set(identity, hash)
}
