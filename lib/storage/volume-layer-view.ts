/**
 * Read-only access to the merged view of an image's layer directories, as
 * overlayfs would show it, without mounting anything: upper layers win, a
 * whiteout (character device 0/0) hides a name from the layers below, and
 * an opaque directory (xattr `trusted.overlay.opaque` = `y`) hides the
 * directories below it.
 *
 * Layers come from images, which are untrusted. Every lookup is made with
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS) relative to an fd of the
 * layer root, so no path component can lead out of a layer; symlinks of
 * the image are followed only by {@link LayerView.resolve}, lexically,
 * inside the merged view (like RESOLVE_IN_ROOT does in the container).
 * Each open goes through a {@link SourceReads}: a rootless runtime's has the
 * keeper make those the user is refused (a layer's directory only another
 * id may search or read), confined the same way.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { O_RDONLY, readlinkat } from '../sys/fsops'
import { AT_FDCWD, closeQuietly, openat2, O_CLOEXEC, O_DIRECTORY, O_PATH } from '../sys/libc'
import { SyscallError, errnoOf } from '../errors'
import { directReads, type SourceReads } from '../files/source-reads'
import { LayerWalkCache } from './layer-walk-cache'
import { isWhiteout } from './whiteout'

/** The kernel's limit on symlinks followed in one lookup. */
const MAX_LINKS = 40


/** One entry of the merged view. */
export interface LayerEntry {
  /** Index into the layer list of the layer that provides the entry. */
  layer: number
  /** Path relative to every layer root ("" for the root). */
  rel: string
  stat: fs.Stats
  /** For a directory: the layers whose directories merge into it, top-most first. */
  stack: number[]
}

/** The merged, read-only view of a stack of layer directories (top-most first). Call {@link close} when done. */
export class LayerView {
  private readonly roots: number[] = []
  private readonly walked: LayerWalkCache

  /**
   * @param lowerDirs - layer directories, top-most first
   * @param reads - how files are opened: by default the caller's own calls; a rootless runtime's reads another id's through its keeper
   */
  constructor(
    lowerDirs: string[],
    private readonly reads: SourceReads = directReads,
  ) {
    this.walked = new LayerWalkCache(reads)
    try {
      for (const dir of lowerDirs) this.roots.push(openat2(AT_FDCWD, dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0))
    } catch (err) {
      this.close()
      throw err
    }
  }

  /** Closes the layer fds (and the files opened ahead of their reads). */
  close(): void {
    this.walked.close()
    for (const fd of this.roots.splice(0)) closeQuietly(fd)
  }

  /** Opens `rel` in a layer (never following a symlink); undefined when it is not there. */
  private openIn(layer: number, rel: string, flags: number): number | undefined {
    try {
      return this.reads.openInLayer(this.roots[layer], rel === '' ? '.' : rel, flags)
    } catch (err) {
      // ELOOP/ENOTDIR: a symlink or file on the way in this layer, so the path does not exist here.
      if (['ENOENT', 'ENOTDIR', 'ELOOP'].includes(errnoOf(err) ?? '')) return undefined
      throw err
    }
  }

  private withFd<T>(layer: number, rel: string, flags: number, use: (fd: number) => T): T | undefined {
    const fd = this.openIn(layer, rel, flags)
    if (fd === undefined) return undefined
    try {
      return use(fd)
    } finally {
      closeQuietly(fd)
    }
  }

  private lstat(layer: number, rel: string): fs.Stats | undefined {
    const listed = this.walked.stat(layer, rel)
    if (listed !== undefined) return listed ?? undefined
    return this.withFd(layer, rel, O_PATH, (fd) => fs.fstatSync(fd))
  }

  private isOpaque(layer: number, rel: string): boolean {
    return this.withFd(layer, rel, O_RDONLY | O_DIRECTORY, (fd) =>
      ['trusted.overlay.opaque', 'user.overlay.opaque'].some((name) => this.reads.getxattr(fd, name)?.toString() === 'y'),
    ) ?? false
  }

  /** The root directory of the view. */
  root(): LayerEntry {
    const stat = this.lstat(0, '')
    if (!stat) throw new SyscallError('open', 'ENOENT', 'layer root')
    return { layer: 0, rel: '', stat, stack: this.roots.map((_, i) => i) }
  }

  /** Looks `rel` up through `stack` (the parent directory's layers), as overlayfs does. */
  private lookup(stack: number[], rel: string): LayerEntry | undefined {
    let top: LayerEntry | undefined
    for (const layer of stack) {
      const stat = this.lstat(layer, rel)
      if (!stat) continue
      if (isWhiteout(stat)) break
      if (!top) {
        top = { layer, rel, stat, stack: stat.isDirectory() ? [layer] : [] }
        if (!stat.isDirectory()) break
      } else if (stat.isDirectory()) {
        top.stack.push(layer)
      } else {
        break // a non-directory below a directory ends the merge
      }
      if (this.isOpaque(layer, rel)) break
    }
    return top
  }

  /** The entries of a directory of the view, by name. */
  children(dir: LayerEntry): Map<string, LayerEntry> {
    const found = new Map<string, LayerEntry>()
    const decided = new Set<string>()
    // Every layer's directory listed first (through an fd opened for reading: a /proc/self/fd path would be opened
    // again, as the caller), so that the lookups below know what each layer has without asking it again.
    const listed = dir.stack.map((layer) => this.withFd(layer, dir.rel, O_RDONLY | O_DIRECTORY, (fd) => this.walked.list(layer, dir.rel, fd)) ?? [])
    dir.stack.forEach((layer, i) => {
      for (const name of listed[i]!) {
        if (decided.has(name)) continue
        decided.add(name)
        // Upper layers of the stack lack this name, so the lookup starts at this layer.
        const entry = this.lookup(dir.stack.slice(i), path.posix.join(dir.rel, name))
        if (entry) found.set(name, entry)
      }
    })
    return found
  }

  /** A symlink's target, read through an fd of the link itself (no lookup by path). */
  readlink(entry: LayerEntry): string {
    const target = this.withFd(entry.layer, entry.rel, O_PATH, (fd) => readlinkat(fd, ''))
    if (target === undefined) throw new SyscallError('readlink', 'ENOENT', entry.rel)
    return target
  }

  /** Opens a regular file of the view for reading; the caller closes the fd. */
  openFile(entry: LayerEntry): number {
    const dir = path.posix.dirname(entry.rel)
    const fd = this.walked.openFile(entry.layer, entry.rel, () => this.openIn(entry.layer, dir === '.' ? '' : dir, O_PATH | O_DIRECTORY)) ?? this.openIn(entry.layer, entry.rel, O_RDONLY)
    if (fd === undefined) throw new SyscallError('open', 'ENOENT', entry.rel)
    return fd
  }

  /**
   * Finds what a container path leads to in the view, following the image's
   * symlinks with `/` and `..` kept at the view's root, as RESOLVE_IN_ROOT
   * does for the mount itself. Undefined when it does not exist.
   */
  resolve(containerPath: string): LayerEntry | undefined {
    const chain = [this.root()]
    const parts = containerPath.split('/')
    let links = 0
    while (parts.length > 0) {
      const part = parts.shift() as string
      if (part === '' || part === '.') continue
      if (part === '..') {
        if (chain.length > 1) chain.pop()
        continue
      }
      const dir = chain[chain.length - 1]
      if (!dir.stat.isDirectory()) return undefined
      const entry = this.lookup(dir.stack, path.posix.join(dir.rel, part))
      if (!entry) return undefined
      if (entry.stat.isSymbolicLink()) {
        if (++links > MAX_LINKS) return undefined
        const target = this.readlink(entry)
        if (target.startsWith('/')) chain.splice(1)
        parts.unshift(...target.split('/'))
        continue
      }
      chain.push(entry)
    }
    return chain[chain.length - 1]
  }
}
