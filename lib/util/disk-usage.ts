/**
 * Apparent size of a directory tree, as Docker's SizeRw / SizeRootFs count it:
 * regular files and symlinks, each hard-linked inode once, never following links.
 * @module
 */
import * as fs from 'node:fs'

/** Sum of file sizes under `dir`, in bytes (0 when it does not exist). Names are read as bytes: a name that is not UTF-8 is still found. */
export async function diskUsage(dir: string | Buffer, seen = new Set<string>()): Promise<number> {
  let entries: fs.Dirent[]
  try {
    entries = await fs.promises.readdir(dir, { withFileTypes: true, encoding: 'buffer' as unknown as 'utf8' })
  } catch {
    return 0
  }
  let total = 0
  for (const e of entries) {
    // With encoding 'buffer' the name is a Buffer (Node's typings say string).
    const p = Buffer.concat([Buffer.from(dir), Buffer.from('/'), e.name as unknown as Buffer])
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
