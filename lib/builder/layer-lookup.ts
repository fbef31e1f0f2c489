/**
 * What a path is in a stage's stack of image layers, read without mounting
 * them: the storage layer's merged view (lib/storage/volume-layer-view) does
 * the lookup as overlayfs would (whiteouts, opaque directories), confined
 * to each layer with openat2, and follows the image's symlinks inside the
 * image's root. Images are untrusted: a layer's `/etc` may be a symlink to
 * a host path, which a host-path lookup would follow.
 *
 * @module
 */
import * as fs from 'node:fs'
import { LayerView as MergedLayers } from '../storage/volume-layer-view'
import type { SourceReads } from '../files/source-reads'
import { closeQuietly } from '../sys/libc'

/** Metadata of a path found in the layers. */
export interface LayerStat {
  readonly type: 'directory' | 'other'
  readonly mode: number
  readonly uid: number
  readonly gid: number
  readonly mtime: Date
}

/**
 * The layer stack of a stage: its layer directories, top-most first. One
 * instruction's lookups (--chown's passwd and group, the destination and its
 * parents) share one merged view, opened at the first and closed by {@link close}.
 */
export class LayerView {
  private opened: MergedLayers | undefined

  /**
   * @param layerDirs - top-most first
   * @param reads - opens the layers' files (a rootless runtime's: another id's through its keeper)
   */
  constructor(
    private readonly layerDirs: string[],
    private readonly reads?: SourceReads,
  ) {}

  /** The path's metadata (symlinks followed inside the root), or undefined when it does not exist. */
  stat(p: string): LayerStat | undefined {
    return this.merged((v) => {
      const st = v.resolve(p)?.stat
      return st && { type: st.isDirectory() ? 'directory' : 'other', mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime }
    })
  }

  /** Reads a small file of the image (/etc/passwd), or undefined. */
  read(p: string): string | undefined {
    return this.merged((v) => {
      const entry = v.resolve(p)
      if (!entry?.stat.isFile()) return undefined
      const fd = v.openFile(entry)
      try {
        return fs.readFileSync(fd, 'utf8')
      } finally {
        closeQuietly(fd)
      }
    })
  }

  /** Closes the layers' fds, when the instruction is done with them; a lookup after opens them again. */
  close(): void {
    this.opened?.close()
    this.opened = undefined
  }

  /** Runs `use` on the merged view of the layers; nothing exists in no layer (FROM scratch). */
  private merged<T>(use: (v: MergedLayers) => T | undefined): T | undefined {
    if (this.layerDirs.length === 0) return undefined
    this.opened ??= new MergedLayers(this.layerDirs, this.reads)
    return use(this.opened)
  }
}
