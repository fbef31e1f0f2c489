/**
 * `docker cp` in both directions, with Docker's rules:
 *
 * Source is a file:
 * - dest missing -> created with the source's content (its parent must exist);
 * - dest missing and ending in "/" -> error (ENOTDIR, dest-dir-missing);
 * - dest is a file -> its content is replaced (ending in "/": ENOTDIR);
 * - dest is a directory -> the file is copied into it under its own name.
 *
 * Source is a directory:
 * - dest missing -> created, with the source's contents (and mode, owner, times);
 * - dest is a file -> error (EISDIR, dir-onto-file);
 * - dest is a directory -> the source dir is copied into it under its own
 *   name, or with a source ending in "/." its contents are copied into dest.
 *   Existing directories are merged, existing non-directories replaced.
 *
 * Parents are never created. Symlinks are copied as links (a source symlink is
 * followed with `followLink`, like `docker cp -L`, or when the source ends in
 * "/" or "/."); symlinks in the destination path are followed inside the
 * container's root, like Docker. Modes, times (ns), uid/gid, hard links within
 * the copied tree, empty dirs and FIFOs are preserved. Device nodes are copied
 * into a container but refused (EUNSAFE) out of one.
 *
 * Atomicity: everything is first written into a hidden staging directory
 * (`.mc-cp-<random>`) inside the directory where the result lands; only then
 * is the result moved into place with renames. A copy that fails or is
 * aborted while copying leaves the destination exactly as it was (the staging
 * dir is removed). Replacing a file, or creating a new file or directory, is
 * one atomic rename. Merging into an existing directory is a series of
 * renames (each atomic, each entry either old or new); before it starts,
 * every directory that receives entries is checked to be writable (a
 * read-only mount inside the destination fails the copy with EROFS before
 * anything moves), so only a failure in that final rename phase — e.g. the
 * container deleting directories meanwhile — can leave a merge half done. Entries under a different mount
 * (a volume inside the destination) are copied to a temporary name beside
 * their target and renamed.
 *
 * @module
 */
import { O_DIRECTORY, O_PATH } from '../sys/libc'
import { close, listdir, nameStr, type RawStat } from '../sys/fsops'
import { DirNonDirError, DirectoryOntoFileError, NotADirectoryError } from './errors'
import {
  closeSide,
  containerSide,
  hostSide,
  isDir,
  lstatAt,
  mapWriteError,
  openDirMaybe,
  openIn,
  parsePath,
  resolveInScope,
  type ParsedPath,
  type Side,
} from './resolve'
import { TreeCopier, restoreMtime, tempName } from './tree'
import { directWrites, openStageAndLanding, removeStageQuietly, type LandingWrites } from './landing'
import { lstatThrough, openDirPathThrough, openDirThrough, openerThrough, type SourceReads } from './source-reads'
import { openPath } from './stat'
import { checkMergeWritable, mergeInto } from './merge'

/** Options of `Container.copyTo` and `Container.copyFrom`. */
export interface CopyOptions {
  /** Follow a symlink source and copy what it points to (`docker cp -L`). Default false: copy the link. */
  followLink?: boolean
  /** Aborts the copy; the destination is left as it was. */
  signal?: AbortSignal
  /** Copy uid/gid (default true; needs root). */
  preserveOwner?: boolean
}

/**
 * Copies a host path into a container (`docker cp SRC CONTAINER:DEST`). `root` is the container's root dir (e.g. /proc/<pid>/root);
 * `writes` makes the writes in the directories it lands in; `reads` resolves the destination where the caller may not (a directory
 * on the way only another id may search), and opens the host's files the caller may not read (rootless: a file of
 * the user's own with mode 0000, which the keeper, root of a namespace the user's id is mapped into, may).
 */
export async function copyTo(root: string, hostSrc: string, containerDest: string, opts: CopyOptions = {}, writes: LandingWrites = directWrites, reads?: SourceReads): Promise<void> {
  await withSides(hostSide, () => containerSide(root), (src, dst) => copyBetween(src, hostSrc, dst, containerDest, opts, { writes, srcReads: reads, dstReads: reads }))
}

/** Copies a container path to the host (`docker cp CONTAINER:SRC DEST`). `root` is the container's root dir; `reads` opens the files the caller may not. */
export async function copyFrom(root: string, containerSrc: string, hostDest: string, opts: CopyOptions = {}, reads?: SourceReads): Promise<void> {
  await withSides(() => containerSide(root), hostSide, (src, dst) => copyBetween(src, containerSrc, dst, hostDest, opts, { writes: directWrites, srcReads: reads }))
}

/** Opens both sides of a copy, runs `fn`, and closes them whatever happens. */
async function withSides(openSrc: () => Side, openDst: () => Side, fn: (src: Side, dst: Side) => Promise<void>): Promise<void> {
  const src = openSrc()
  try {
    const dst = openDst()
    try {
      await fn(src, dst)
    } finally {
      closeSide(dst)
    }
  } finally {
    closeSide(src)
  }
}

/** An opened source: `dirfd` + `name`, or `dirfd` itself (O_PATH) when name is "". */
interface Source {
  dirfd: number
  name: string
  stat: RawStat
  /** The name it gets at the destination. */
  base: string
  /** Ends in "/." or is the root: a directory's contents are copied. */
  contents: boolean
}

function openSource(side: Side, p: ParsedPath, followLink: boolean, reads?: SourceReads): Source {
  const { dirfd, name, stat } = openPath(side, p, reads, { followLink, missing: 'source-missing' })
  if (p.trailingSlash && !isDir(stat)) {
    close(dirfd)
    throw new NotADirectoryError(side.display(p.raw), 'source-not-dir')
  }
  return { dirfd, name, stat, base: p.base, contents: p.dotSuffix || p.base === '' }
}

/** Where a copy lands: a directory fd and the entries to place in it. */
interface Plan {
  landing: number
  /** [name at destination], or undefined: the source dir's contents. */
  destName?: string
  /** Displayed path of the landing dir. */
  where: string
}

function plan(side: Side, d: ParsedPath, src: Source, srcDisplay: string, reads: SourceReads | undefined): Plan {
  // Symlinks in the destination path are followed inside the root (only to
  // name the target; the opens below are confined whatever happens).
  const open = openerThrough(reads)
  const resolved = d.clean === '/' ? '/' : resolveInScope(side, d.clean, open)
  const base = resolved === '/' ? '' : resolved.slice(resolved.lastIndexOf('/') + 1)
  const parent = resolved.slice(0, Math.max(1, resolved.lastIndexOf('/')))
  const destDisplay = side.display(d.raw)
  if (base === '') return { landing: openIn(side, '/', O_PATH | O_DIRECTORY), destName: srcDirContents(src) ? undefined : src.base, where: destDisplay }
  const pfd = openDirMaybe(side, parent, open)
  if (pfd === undefined) throw new NotADirectoryError(destDisplay, d.trailingSlash && !isDir(src.stat) ? 'dest-dir-missing' : 'dest-parent-missing')
  let keep = false
  try {
    const st = lstatThrough(reads, pfd, base)
    if (!st) {
      if (d.trailingSlash && !isDir(src.stat)) throw new NotADirectoryError(destDisplay, 'dest-dir-missing')
      keep = true
      return { landing: pfd, destName: base, where: side.display(parent) }
    }
    if (isDir(st)) {
      const dfd = openDirPathThrough(reads, pfd, base)
      return { landing: dfd, destName: srcDirContents(src) ? undefined : src.base, where: destDisplay }
    }
    if (d.trailingSlash) throw new NotADirectoryError(destDisplay, 'dest-not-dir')
    if (isDir(src.stat)) throw new DirectoryOntoFileError(srcDisplay, destDisplay)
    keep = true
    return { landing: pfd, destName: base, where: side.display(parent) }
  } finally {
    if (!keep) close(pfd)
  }
}

/** A directory source copied "as contents": ending in "/." or the root itself. */
function srcDirContents(src: Source): boolean {
  return isDir(src.stat) && src.contents
}

/** How a copy reaches the container side's files the caller may not (a rootless runtime's keeper): the writes where it lands, and the opens of its source or destination. */
interface Through {
  writes: LandingWrites
  srcReads?: SourceReads
  dstReads?: SourceReads
}

async function copyBetween(srcSide: Side, srcPath: string, dstSide: Side, dstPath: string, opts: CopyOptions, through: Through): Promise<void> {
  opts.signal?.throwIfAborted()
  const s = parsePath(srcSide, srcPath)
  const d = parsePath(dstSide, dstPath)
  const src = openSource(srcSide, s, opts.followLink ?? false, through.srcReads)
  try {
    const p = plan(dstSide, d, src, srcSide.display(s.raw), through.dstReads)
    try {
      await place(srcSide, src, p, opts, srcSide.display(s.raw), through)
    } finally {
      close(p.landing)
    }
  } finally {
    close(src.dirfd)
  }
}

async function place(srcSide: Side, src: Source, p: Plan, opts: CopyOptions, srcDisplay: string, through: Through): Promise<void> {
  const { writes, srcReads: reads, dstReads } = through
  const owner = opts.preserveOwner ?? true
  const stage = tempName()
  const before = lstatAt(p.landing, '')!
  try {
    writes.mkdir(p.landing, stage, 0o700)
  } catch (err) {
    throw mapWriteError(err, p.where)
  }
  let stagefd = -1
  let merging = false
  try {
    const opened = openStageAndLanding(p.landing, stage, dstReads)
    stagefd = opened.stagefd
    const landing = opened.landingfd
    try {
      const self = lstatAt(stagefd, '')!
      const copier = new TreeCopier(stagefd, {
        exclude: { dev: self.dev, ino: self.ino },
        owner,
        allowDevices: !srcSide.container,
        signal: opts.signal,
        describe: (rel) => `${srcDisplay}${rel ? `/${rel}` : ''}`,
        reads,
      })
      if (p.destName !== undefined) await copier.copy(src.dirfd, src.name, stagefd, p.destName, p.destName)
      else {
        const dirfd = openDirThrough(reads, src.dirfd, src.name)
        try {
          for (const e of listdir(dirfd)) await copier.copy(dirfd, e.name, stagefd, e.name, nameStr(e.name), e.type)
        } finally {
          close(dirfd)
        }
      }
      opts.signal?.throwIfAborted()
      checkMergeWritable(stagefd, landing, (rel) => (rel ? `${p.where}/${rel}` : p.where), dstReads)
      merging = true
      await mergeInto(stagefd, landing, {
        owner,
        writes,
        reads: dstReads,
        describe: (rel) => `${p.where}/${rel}`,
        dirNonDir: (rel) => new DirNonDirError(`${p.where}/${rel}`),
      })
    } finally {
      close(landing)
    }
  } catch (err) {
    removeStageQuietly(p.landing, stage, writes, stagefd)
    if (stagefd >= 0) close(stagefd)
    stagefd = -1
    if (!merging) restoreMtime(p.landing, before)
    throw mapWriteError(err, p.where)
  } finally {
    removeStageQuietly(p.landing, stage, writes, stagefd)
    if (stagefd >= 0) close(stagefd)
  }
}
