/**
 * Overlay upper dirs and OCI layers, for `commit`.
 *
 * - {@link layerFromUpper}: a container's overlay upper dir -> an OCI layer tar
 *   stream: whiteouts (char device 0/0) become `.wh.<name>` entries, opaque
 *   directories (xattr trusted.overlay.opaque=y, or user.overlay.opaque with
 *   userxattr) get a `.wh..wh..opq` entry. Entries are sorted and named
 *   without a leading "./", so equal trees give equal bytes (digests).
 * - {@link applyLayer}: the reverse, applying a layer tar onto a directory,
 *   either `whiteouts: 'delete'` (a flat rootfs: whiteouts delete what the
 *   lower layers had; the default) or `whiteouts: 'overlay'` (build an overlay
 *   lowerdir: whiteouts become char 0/0 devices and opaque markers the
 *   trusted.overlay.opaque xattr).
 *
 * The upper dir's content was written by the container: it is walked with
 * the fd-relative, never-following walk. Layers are untrusted too: names with
 * `..` or absolute names are refused (EUNSAFE), parents are resolved inside
 * the target dir (RESOLVE_IN_ROOT). Char and block devices are created (with
 * the entry's major/minor, inside the target dir) where Docker creates them:
 * as root outside a user namespace; a 0/0 char device is then an overlay
 * whiteout, as in Docker's overlay2. Xattrs in PAX records are kept for the
 * namespaces Docker keeps (lib/files/xattrs.ts), binary values included;
 * layers written from a tree carry them too.
 *
 * Not supported: overlay redirect_dir and metacopy upper dirs (the runtime
 * mounts overlays without them).
 *
 * @module
 */
import * as path from 'node:path'
import { Readable } from 'node:stream'
import * as tar from 'tar-stream'
import { InvalidArgumentError } from '../errors'
import { AT_FDCWD, O_DIRECTORY, O_PATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2 } from '../sys/libc'
import {
  O_RDONLY,
  S_IFCHR,
  close,
  fsetxattr,
  listdir,
  mkdirat,
  mknodat,
  nameStr,
  openat,
} from '../sys/fsops'
import { ArchiveWalker } from './archive-walker'
import { decompressed, toNodeReadable } from './tar-streams'
import { entryParts, extractEach, writableEntryTypes, writeEntry, type EntryHeader, type TarEntry } from './tar-extract'
import { UnsafeEntryError } from './errors'
import { isDir, isLink, lstatAt } from './resolve'
import { DirChain } from './dir-chain'
import { mayCreateDevices } from './devices'
import { removeTree } from './tree'

const IN_DIR = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS
const WH = '.wh.'
const OPQ = '.wh..wh..opq'

function openHostDir(dir: string, flags: number): number {
  if (!path.isAbsolute(dir)) throw new InvalidArgumentError(`directory must be an absolute path, got "${dir}"`)
  return openat2(AT_FDCWD, dir, flags | O_DIRECTORY, 0, 0)
}

/** An OCI layer tar stream of an overlay upper dir (`containers/<id>/upper`). */
export function layerFromUpper(upperDir: string): Readable {
  const fd = openHostDir(upperDir, O_RDONLY)
  const pack = tar.pack()
  const walker = new ArchiveWalker(pack, true)
  ;(async () => {
    try {
      for (const e of walker.entries(fd)) await walker.add(fd, e.name, nameStr(e.name))
      pack.finalize()
    } catch (err) {
      pack.destroy(err as Error)
    } finally {
      close(fd)
    }
  })()
  return toNodeReadable(pack)
}

/** Options of {@link applyLayer}. */
export interface ApplyLayerOptions {
  /** 'delete' (default): whiteouts remove lower content; 'overlay': write overlay whiteouts (char 0/0, opaque xattr). */
  whiteouts?: 'delete' | 'overlay'
  signal?: AbortSignal
}

/**
 * Applies an OCI layer tar (optionally gzip-compressed) onto the existing
 * host directory `dir`. Not atomic: a failure leaves the entries applied so
 * far (apply into a fresh directory, then rename it, for an all-or-nothing
 * result).
 */
export async function applyLayer(dir: string, input: Readable | Buffer, opts: ApplyLayerOptions = {}): Promise<void> {
  const mode = opts.whiteouts ?? 'delete'
  const dirfd = openHostDir(dir, O_PATH)
  /** Paths this layer created: an opaque marker only hides what lower layers had. */
  const created = new Set<string>()
  const parents = new ParentDirs(dirfd, created)
  const source = decompressed(Buffer.isBuffer(input) ? Readable.from([input]) : input)
  try {
    await extractEach(source, dirfd, IN_DIR, (entry, dirs) => applyEntry(dirfd, entry, mode, parents, dirs), { ...opts, xattrs: true })
  } catch (err) {
    source.destroy() // stops reading the caller's stream
    throw err
  } finally {
    parents.close()
    close(dirfd)
  }
}

/**
 * The parent directories of the last entry, kept open for the next ones (a
 * layer lists a directory's entries together, and a deep tree's entries each
 * one level further down): an entry's parent is reached from the longest
 * prefix it shares with the last one, one component at a time, so each entry
 * costs the components that changed, not a resolution of its whole path
 * (cubic in the depth over a deep chain). Reusing the fds is safe because an
 * entry only ever changes its parent's children, never the parent or its
 * ancestors: an entry that replaces a directory on that path (a symlink, a
 * whiteout) has another parent itself, so it moves this chain away before
 * any later entry could be resolved through a stale directory.
 */
class ParentDirs {
  private readonly chain: DirChain
  /** The components of the chain's levels. */
  private parts: string[] = []

  constructor(
    private readonly dirfd: number,
    /** Paths the layer created (parent dirs made on the way are added). */
    readonly created: Set<string>,
  ) {
    this.chain = new DirChain(dirfd, O_PATH)
  }

  /** An O_PATH fd of the entry's parent `parts` (created 0755 where missing); owned by the chain, valid until the next open. */
  open(parts: string[]): number {
    let same = 0
    while (same < parts.length && same < this.parts.length && parts[same] === this.parts[same]) same++
    this.chain.popTo(same)
    this.parts.length = same
    for (let i = same; i < parts.length; i++) this.descend(parts, i)
    return this.chain.top()
  }

  /** Pushes `parts[i]`, made (0755) when missing; a symlink is followed, but only inside dirfd. */
  private descend(parts: string[], i: number): void {
    const name = parts[i]
    const st = lstatAt(this.chain.top(), name)
    if (!st) {
      mkdirat(this.chain.top(), name, 0o755)
      this.created.add(parts.slice(0, i + 1).join('/'))
    }
    if (!st || !isLink(st)) this.chain.push(name)
    else {
      const resolved = parts.slice(0, i + 1).join('/')
      const inRoot = () => openat2(this.dirfd, resolved, O_PATH | O_DIRECTORY, 0, IN_DIR)
      this.chain.push(name, inRoot(), inRoot)
    }
    this.parts.push(name)
  }

  close(): void {
    this.chain.close()
    this.parts = []
  }
}

async function applyEntry(dirfd: number, entry: TarEntry, mode: 'delete' | 'overlay', parents: ParentDirs, dirs: [string, EntryHeader][]): Promise<void> {
  const h = entry.header
  const drain = async () => {
    for await (const _ of entry);
  }
  const parts = entryParts(h.name, 'the name')
  if (parts.length === 0) return drain()
  const type = h.type ?? 'file'
  const name = parts[parts.length - 1]
  const rel = parts.join('/')
  const created = parents.created
  const pfd = parents.open(parts.slice(0, -1))
  if (name === OPQ) {
    await drain()
    if (mode === 'overlay') {
      const fd = openat(pfd, '.', O_RDONLY | O_DIRECTORY)
      try {
        fsetxattr(fd, 'trusted.overlay.opaque', 'y')
      } finally {
        close(fd)
      }
      return
    }
    const prefix = parts.slice(0, -1).join('/')
    const fd = openat(pfd, '.', O_RDONLY | O_DIRECTORY)
    try {
      for (const e of listdir(fd)) if (!created.has(prefix ? `${prefix}/${nameStr(e.name)}` : nameStr(e.name))) removeTree(fd, e.name)
    } finally {
      close(fd)
    }
    return
  }
  if (name.startsWith(WH)) {
    await drain()
    const target = name.slice(WH.length)
    if (target === '' || target === '.' || target === '..') throw new UnsafeEntryError(`layer entry ${JSON.stringify(h.name)}`, 'a whiteout of nothing')
    removeTree(pfd, target)
    if (mode === 'overlay') mknodat(pfd, target, S_IFCHR, 0, 0)
    return
  }
  const device = type === 'character-device' || type === 'block-device'
  if (device ? !mayCreateDevices() : !writableEntryTypes.has(type)) return drain()
  const existing = lstatAt(pfd, name)
  if (existing) {
    if (type === 'directory' && isDir(existing)) {
      created.add(rel)
      dirs.push([rel, h])
      return drain()
    }
    removeTree(pfd, name)
  }
  created.add(rel)
  const meta = { uid: h.uid ?? 0, gid: h.gid ?? 0, mtime: h.mtime ?? new Date(), mode: (h.mode ?? 0o644) & 0o7777 }
  await writeEntry({ rootfd: dirfd, resolve: IN_DIR, pfd, name, label: 'layer entry' }, entry, meta, rel, dirs)
}
