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
 *   trusted.overlay.opaque xattr; `'overlay-userxattr'`: user.overlay.opaque,
 *   for a rootless runtime's overlay mounted with userxattr).
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
  mknodat,
  nameStr,
  openat,
} from '../sys/fsops'
import { ArchiveWalker } from './archive-walker'
import type { SourceReads } from './source-reads'
import { PathChain } from './path-chain'
import { decompressed, toNodeReadable } from './tar-streams'
import { deferrableFile, entryParts, extractEach, finishDirs, writableEntryTypes, writeOver, type EntryHeader, type TarEntry } from './tar-extract'
import { PendingFileWrites } from './pending-file-writes'
import { UnsafeEntryError } from './errors'
import { mayCreateDevices } from './devices'
import { removeTree } from './tree'
import type { InsideIds, OwnerLedger } from './owner-ledger'

const IN_DIR = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS
const WH = '.wh.'
const OPQ = '.wh..wh..opq'

function openHostDir(dir: string, flags: number): number {
  if (!path.isAbsolute(dir)) throw new InvalidArgumentError(`directory must be an absolute path, got "${dir}"`)
  return openat2(AT_FDCWD, dir, flags | O_DIRECTORY, 0, 0)
}

/** An OCI layer tar stream of an overlay upper dir (`containers/<id>/upper`); `ids` gives the owners as a rootless container saw them, `reads` opens (and reads the attributes of) what only another id reads. */
export function layerFromUpper(upperDir: string, ids?: InsideIds, reads?: SourceReads): Readable {
  const fd = openHostDir(upperDir, O_RDONLY)
  const pack = tar.pack()
  const walker = new ArchiveWalker(pack, true, ids, reads)
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
  /**
   * 'delete' (default): whiteouts remove lower content; 'overlay': write overlay whiteouts (char 0/0, opaque xattr
   * trusted.overlay.opaque); 'overlay-userxattr': the same for an overlay mounted with userxattr (a rootless runtime's,
   * which reads user.overlay.opaque, and whose caller may not set trusted.* xattrs).
   */
  whiteouts?: 'delete' | 'overlay' | 'overlay-userxattr'
  signal?: AbortSignal
  /**
   * Records each entry's owner and mode here (a rootless unpack, whose chowns to other ids the kernel
   * refuses: they are given afterwards inside the runtime's user namespace; see ./owner-ledger).
   */
  owners?: OwnerLedger
}

/**
 * Applies an OCI layer tar (optionally gzip-compressed) onto the existing
 * host directory `dir`. Not atomic: a failure leaves the entries applied so
 * far (apply into a fresh directory, then rename it, for an all-or-nothing
 * result).
 */
export async function applyLayer(dir: string, input: Readable | Buffer, opts: ApplyLayerOptions = {}): Promise<void> {
  const applier = new LayerApplier(dir, opts)
  const source = decompressed(Buffer.isBuffer(input) ? Readable.from([input]) : input)
  try {
    await extractEach(source, applier.dirfd, IN_DIR, (entry, dirs) => applier.apply(entry, dirs), { ...opts, xattrs: true, settle: () => applier.settle() })
  } catch (err) {
    source.destroy() // stops reading the caller's stream
    throw err
  } finally {
    await applier.close()
  }
}

/** {@link LayerApplier}'s options. */
export interface LayerApplierOptions extends ApplyLayerOptions {
  /**
   * The directory is empty and only this applier writes it: a name it has not made does not exist, so
   * an entry's name is not looked up first (a lookup waits for the directory's lock, which the
   * threadpool's file creations in it hold). Off from the first symlink, whiteout or opaque marker on
   * (through a symlink, or as a whiteout's device, a name is made that the applier did not record).
   */
  fresh?: boolean
}

/**
 * Applies a layer's entries one by one as {@link applyLayer} applies those of its tar, for a writer
 * that has them at hand (a COPY's files, whose tar goes to the blob meanwhile: nothing parses it back).
 * Each entry's header must be as the tar's parse would give it: names relative, mtimes whole seconds,
 * PAX owners applied. {@link finish} sets the directories' metadata; {@link close} always.
 */
export class LayerApplier {
  /** The layer's directory (O_PATH). */
  readonly dirfd: number
  /** Paths this layer created: an opaque marker only hides what lower layers had. */
  private readonly created = new Set<string>()
  // The parents of the last entry stay open for the next ones (see PathChain); a symlink on the way is followed inside dir.
  private readonly parents: PathChain
  private readonly writes = new PendingFileWrites()
  /** The directories {@link add} made, in tree order. */
  private readonly dirs: [string, EntryHeader][] = []

  /** See {@link LayerApplierOptions.fresh}; off for good once an entry could make a name reachable otherwise than by its own path. */
  private readonly fresh: { still: boolean }

  constructor(dir: string, private readonly opts: LayerApplierOptions = {}) {
    this.fresh = { still: !!opts.fresh }
    this.dirfd = openHostDir(dir, O_PATH)
    this.parents = new PathChain(this.dirfd, { flags: O_PATH, resolve: IN_DIR, made: (rel) => this.created.add(rel) })
  }

  /** Applies one entry, its directory's metadata left to {@link finish}. */
  add(entry: TarEntry): Promise<void> {
    return this.apply(entry, this.dirs)
  }

  /** Waits for the file writes in flight, then sets the metadata of the directories {@link add} made. */
  finish(): Promise<void> {
    return finishDirs(this.dirfd, IN_DIR, this.dirs, { settle: () => this.settle() })
  }

  /** Applies one entry; a directory's metadata goes onto `dirs`, for whoever finishes the extraction. */
  apply(entry: TarEntry, dirs: [string, EntryHeader][]): Promise<void> {
    return applyEntry(this.dirfd, entry, { mode: this.opts.whiteouts ?? 'delete', owners: this.opts.owners, writes: this.writes, fresh: this.fresh }, this.parents, this.created, dirs)
  }

  /** Waits for the file writes in flight; throws the first failure. */
  settle(): Promise<void> {
    return this.writes.settle()
  }

  /** Waits for the writes in flight (they write through the parents' fds), then closes the fds. */
  async close(): Promise<void> {
    await this.writes.drain()
    this.parents.close()
    close(this.dirfd)
  }
}

async function applyEntry(
  dirfd: number,
  entry: TarEntry,
  { mode, owners, writes, fresh }: { mode: NonNullable<ApplyLayerOptions['whiteouts']>; owners?: OwnerLedger; writes: PendingFileWrites; fresh?: { still: boolean } },
  parents: PathChain,
  created: Set<string>,
  dirs: [string, EntryHeader][],
): Promise<void> {
  const h = entry.header
  const drain = async () => {
    for await (const _ of entry);
  }
  const parts = entryParts(h.name, 'the name')
  if (parts.length === 0) return drain()
  const type = h.type ?? 'file'
  const name = parts[parts.length - 1]
  const rel = parts.join('/')
  const parent = parts.slice(0, -1).join('/')
  // A small file joins the writes in flight; anything else waits for them (see PendingFileWrites).
  const deferred = deferrableFile(h) && !name.startsWith(WH) ? { writes, parent } : undefined
  if (!deferred || !writes.mayJoin(parent, name)) await writes.settle()
  const pfd = parents.open(parts.slice(0, -1))
  if (fresh && (name === OPQ || name.startsWith(WH) || type === 'symlink')) fresh.still = false
  if (name === OPQ) {
    await drain()
    if (mode !== 'delete') {
      const fd = openat(pfd, '.', O_RDONLY | O_DIRECTORY)
      try {
        fsetxattr(fd, mode === 'overlay' ? 'trusted.overlay.opaque' : 'user.overlay.opaque', 'y')
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
    owners?.forget(parts.length > 1 ? `${parts.slice(0, -1).join('/')}/${target}` : target)
    if (mode !== 'delete') mknodat(pfd, target, S_IFCHR, 0, 0)
    return
  }
  const device = type === 'character-device' || type === 'block-device'
  if (device ? !mayCreateDevices() : !writableEntryTypes.has(type)) return drain()
  const absent = !!fresh?.still && !created.has(rel)
  created.add(rel)
  const meta = { uid: h.uid ?? 0, gid: h.gid ?? 0, mtime: h.mtime ?? new Date(), mode: (h.mode ?? 0o644) & 0o7777 }
  await writeOver({ rootfd: dirfd, resolve: IN_DIR, pfd, name, label: 'layer entry', deferred, absent }, entry, meta, rel, dirs)
  // A hard link shares its target's inode, whose entry has the owner.
  if (type === 'link') owners?.forget(rel)
  else owners?.record(rel, { ...meta, caps: type === 'file' || type === 'contiguous-file' ? h.xattrs?.get('security.capability') : undefined })
}
