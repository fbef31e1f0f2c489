/**
 * Apparent size of a directory tree, as Docker's SizeRw / SizeRootFs count it:
 * regular files and symlinks, each hard-linked inode once, never following links.
 *
 * The walk goes fd by fd down a {@link DirChain}, in a loop: a tree of any
 * depth is counted whole (a walk of path strings counted nothing past
 * PATH_MAX, and recursion overflows the stack), with bounded fds.
 * @module
 */
import { SyscallError } from '../errors'
import { AT_FDCWD, O_DIRECTORY, openat2 } from '../sys/libc'
import { O_RDONLY, S_IFLNK, S_IFMT, S_IFREG, close, listdir, type DirEntry, type RawStat } from '../sys/fsops'
import { DirChain } from './dir-chain'
import { isDir, lstatAt } from './resolve'

/** Yield to the event loop every this many entries (a large layer is counted on this thread). */
const YIELD_EVERY = 256

/** Sum of file sizes under the host directory `dir`, in bytes (0 when it does not exist). Names are read as bytes: a name that is not UTF-8 is still found. */
export async function diskUsage(dir: string): Promise<number> {
  let fd: number
  try {
    fd = openat2(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY, 0, 0)
  } catch (err) {
    if (err instanceof SyscallError && (err.errno === 'ENOENT' || err.errno === 'ENOTDIR')) return 0
    throw err
  }
  const chain = new DirChain(fd, O_RDONLY)
  try {
    return await sizeBelow(chain)
  } finally {
    chain.close()
    close(fd)
  }
}

/**
 * The count {@link diskUsage} makes, entry by entry, for a walk that stats every entry anyway
 * (../files/upper-as-layer sizes the layer it prepares on its own walk).
 */
export class SizeTally {
  private readonly seen = new Set<string>()
  /** Bytes counted so far. */
  total = 0

  /** Counts an entry: a regular file or symlink, unless its inode was counted (a hard link). */
  add(st: RawStat): void {
    const type = st.mode & S_IFMT
    if (type !== S_IFREG && type !== S_IFLNK) return
    const inode = `${st.dev}:${st.ino}`
    if (this.seen.has(inode)) return
    this.seen.add(inode)
    this.total += st.size
  }
}

/** Walks the tree below the chain's base; entries that vanish meanwhile are skipped. */
async function sizeBelow(chain: DirChain): Promise<number> {
  const tally = new SizeTally()
  /** Per level (the base first): its entries still to count. */
  const open: DirEntry[][] = [listdir(chain.top())]
  for (let count = 1; open.length > 0; count++) {
    if (count % YIELD_EVERY === 0) await new Promise<void>((r) => setImmediate(r))
    const e = open[open.length - 1].pop()
    if (!e) {
      open.pop()
      if (open.length > 0) chain.pop()
      continue
    }
    const st = lstatAt(chain.top(), e.name)
    if (!st) continue
    if (isDir(st)) {
      const entries = descend(chain, e)
      if (entries) open.push(entries)
      continue
    }
    tally.add(st)
  }
  return tally.total
}

/** Pushes directory `e` onto the chain and lists it; undefined when it is gone or was swapped for a non-directory. */
function descend(chain: DirChain, e: DirEntry): DirEntry[] | undefined {
  try {
    chain.push(e.name)
  } catch (err) {
    if (err instanceof SyscallError && (err.errno === 'ENOENT' || err.errno === 'ENOTDIR' || err.errno === 'ELOOP')) return undefined
    throw err
  }
  return listdir(chain.top())
}
