/**
 * What a path is in a stack of image layers, read from the layer
 * directories without mounting them: the top-most layer holding it wins,
 * a whiteout hides it (opaque directories are not looked at yet), and symlinks on the way are followed
 * inside the image's root (lexically, as openat2's RESOLVE_IN_ROOT would).
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { InvalidArgumentError } from '../errors'

/** Metadata of a path found in the layers. */
export interface LayerStat {
  readonly type: 'directory' | 'other'
  readonly mode: number
  readonly uid: number
  readonly gid: number
  readonly mtime: Date
}

/** The layer stack of a stage: its layer directories, top-most first. */
export class LayerView {
  /** @param layerDirs - top-most first */
  constructor(private readonly layerDirs: string[]) {}

  /** The path's metadata (symlinks followed inside the root), or undefined when it does not exist. */
  stat(p: string): LayerStat | undefined {
    const resolved = this.resolve(p)
    if (resolved === undefined) return undefined
    const st = this.lstat(resolved)
    if (!st) return undefined
    return { type: st.isDirectory() ? 'directory' : 'other', mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime }
  }

  /** Reads a small file of the image (/etc/passwd), or undefined. */
  read(p: string): string | undefined {
    const resolved = this.resolve(p)
    const layer = resolved === undefined ? undefined : this.layerOf(resolved)
    return layer === undefined ? undefined : fs.readFileSync(path.join(layer, resolved!), 'utf8')
  }

  /** `p` with every symlink in it resolved inside the root; undefined when a component is missing. */
  resolve(p: string, depth = 0): string | undefined {
    if (depth > 40) throw new InvalidArgumentError(`${p}: too many levels of symbolic links in the image`)
    const parts = path.posix.normalize(`/${p}`).split('/').filter(Boolean)
    let done = '/'
    for (let i = 0; i < parts.length; i++) {
      const next = path.posix.join(done, parts[i])
      const found = this.find(next)
      if (!found) return undefined
      if (found.st.isSymbolicLink()) {
        const target = fs.readlinkSync(path.join(found.dir, next))
        const base = target.startsWith('/') ? target : path.posix.join(done, target)
        return this.resolve(path.posix.join(base, ...parts.slice(i + 1)), depth + 1)
      }
      done = next
    }
    return done
  }

  private lstat(p: string): fs.Stats | undefined {
    return this.find(p)?.st
  }

  /** The top-most layer dir holding `p`, or undefined when none does or a whiteout (char device 0/0) above deletes it. */
  private layerOf(p: string): string | undefined {
    return this.find(p)?.dir
  }

  /** The top-most layer dir holding `p` with its lstat there (one lstat per layer looked at); undefined when absent or whited out. */
  private find(p: string): { dir: string; st: fs.Stats } | undefined {
    for (const dir of this.layerDirs) {
      const st = fs.lstatSync(path.join(dir, p), { throwIfNoEntry: false })
      if (st) return st.isCharacterDevice() && st.rdev === 0 ? undefined : { dir, st }
    }
    return undefined
  }
}
