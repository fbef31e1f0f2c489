/**
 * What a walk of a layer view ({@link LayerView}) learns in batches: when a
 * directory of a layer is listed, its entries are opened O_PATH and stat'ed
 * {@link openEachMax} at a time, and when a file of it is read, the regular
 * files after it in the listing are opened with it. A rootless runtime's
 * keeper opens what only another id inside may search or read (a stage's
 * 0700 directory of uid 999), and one request per batch instead of one per
 * entry keeps a COPY --from of a tree of a thousand files well under a
 * second. Layers are immutable while a view is open, so what a listing
 * says holds until the view closes. At most {@link maxHeldFiles} file fds
 * are held ahead of their reads.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { listdir, nameStr, O_RDONLY } from '../sys/fsops'
import { closeQuietly, O_PATH } from '../sys/libc'
import { openEachMax, type SourceReads } from '../files/source-reads'

/** Most file fds opened ahead of their reads. */
const maxHeldFiles = 2 * openEachMax

/** A path of a layer as a map key. */
const keyOf = (layer: number, rel: string): string => `${layer}\0${rel}`

/** The listings, stats and opened files a walk of one layer view learned. */
export class LayerWalkCache {
  private readonly listings = new Map<string, { names: string[]; set: Set<string> }>()
  private readonly stats = new Map<string, fs.Stats>()
  private readonly files = new Map<string, number>()

  constructor(private readonly reads: SourceReads) {}

  /** The names of the directory `dirRel` of `layer` (`dirfd`, opened for reading), sorted; each entry stat'ed in batches. */
  list(layer: number, dirRel: string, dirfd: number): string[] {
    const names = listdir(dirfd)
      .map((e) => nameStr(e.name))
      .sort()
    this.listings.set(keyOf(layer, dirRel), { names, set: new Set(names) })
    for (let i = 0; i < names.length; i += openEachMax) {
      const batch = names.slice(i, i + openEachMax)
      this.reads.openEach(dirfd, batch, O_PATH).forEach((fd, j) => {
        if (fd === undefined) return
        try {
          this.stats.set(keyOf(layer, path.posix.join(dirRel, batch[j]!)), fs.fstatSync(fd))
        } finally {
          closeQuietly(fd)
        }
      })
    }
    return names
  }

  /** The stat of `rel` in `layer` a listing gave; null when its directory's listing lacks it (not in that layer); undefined when unknown. */
  stat(layer: number, rel: string): fs.Stats | null | undefined {
    // The layer's root is in no listing (the root's own lists its entries, and its parent is itself).
    if (rel === '') return undefined
    const known = this.stats.get(keyOf(layer, rel))
    if (known) return known
    const listing = this.listings.get(keyOf(layer, parentOf(rel)))
    return listing && !listing.set.has(path.posix.basename(rel)) ? null : undefined
  }

  /**
   * `rel` of `layer` opened for reading (the caller owns the fd), with the regular files after it in its directory's
   * listing opened in the same batch for the reads that follow; undefined when its directory was not listed, or it was not opened.
   * `openDir` opens the directory (O_PATH), or undefined.
   */
  openFile(layer: number, rel: string, openDir: () => number | undefined): number | undefined {
    const key = keyOf(layer, rel)
    if (!this.files.has(key)) this.openAhead(layer, rel, openDir)
    const fd = this.files.get(key)
    this.files.delete(key)
    return fd
  }

  /** Closes the files opened ahead. */
  close(): void {
    for (const fd of this.files.values()) closeQuietly(fd)
    this.files.clear()
  }

  private openAhead(layer: number, rel: string, openDir: () => number | undefined): void {
    const dirRel = parentOf(rel)
    const listing = this.listings.get(keyOf(layer, dirRel))
    const at = listing?.names.indexOf(path.posix.basename(rel)) ?? -1
    if (!listing || at < 0) return
    const batch = [listing.names[at]!]
    for (let i = at + 1; i < listing.names.length && batch.length < openEachMax; i++) {
      const name = listing.names[i]!
      const key = keyOf(layer, path.posix.join(dirRel, name))
      if (!this.files.has(key) && this.stats.get(key)?.isFile()) batch.push(name)
    }
    // Files opened ahead and never read (a walk that skipped them) are let go before more are held.
    if (this.files.size + batch.length > maxHeldFiles) this.close()
    const dirfd = openDir()
    if (dirfd === undefined) return
    try {
      this.reads.openEach(dirfd, batch, O_RDONLY).forEach((fd, j) => {
        if (fd !== undefined) this.files.set(keyOf(layer, path.posix.join(dirRel, batch[j]!)), fd)
      })
    } finally {
      closeQuietly(dirfd)
    }
  }
}

/** The directory of a layer path ("" for the layer's root). */
function parentOf(rel: string): string {
  const dir = path.posix.dirname(rel)
  return dir === '.' ? '' : dir
}
