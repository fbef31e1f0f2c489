/**
 * Apparent size of a directory tree, as Docker's SizeRw / SizeRootFs count it:
 * regular files and symlinks, each hard-linked inode once, never following links.
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

/** Sum of file sizes under `dir`, in bytes (0 when it does not exist). */
export async function diskUsage(dir: string, seen = new Set<string>()): Promise<number> {
  let entries: fs.Dirent[]
  try {
    entries = await fs.promises.readdir(dir, { withFileTypes: true })
  } catch {
    return 0
  }
  let total = 0
  for (const e of entries) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) total += await diskUsage(p, seen)
    else if (e.isFile() || e.isSymbolicLink()) {
      const st = await fs.promises.lstat(p)
      const inode = `${st.dev}:${st.ino}`
      if (seen.has(inode)) continue
      seen.add(inode)
      total += st.size
    }
  }
  return total
}
