/**
 * Moving a staged tree into its destination (the last step of a copy or a
 * putArchive): entries are renamed in, directories that exist on both sides
 * merged, walked in a loop down two {@link DirChain}s (any depth, bounded fds
 * and stack), never following a symlink the caller did not resolve itself.
 *
 * @module
 */
import * as fs from 'node:fs'
import { errnoOf } from '../errors'
import { O_DIRECTORY } from '../sys/libc'
import {
  MC_OWNER,
  O_RDONLY,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  close,
  copyData,
  listdir,
  openat,
  openRegular,
  unlinkat,
  nameStr,
  type DirEntry,
  type Name,
  type RawStat,
} from '../sys/fsops'
import { DirChain } from './dir-chain'
import { isMountPoint } from './mount-point'
import { MountPointError, ReadOnlyError, UnsafeEntryError } from './errors'
import { isDir, lstatAt } from './resolve'
import { readXattrs, writeXattrs } from './xattrs'
import { openDirThrough, lstatThrough, pushThrough, type SourceReads } from './source-reads'
import { removeStageQuietly, type LandingWrites } from './landing'
import { TreeCopier, removeTree, tempName } from './tree'

/** How {@link mergeInto} treats what it meets in the destination. */
export interface MergeOptions {
  owner: boolean
  /** Refuse to replace a directory with a non-directory or the reverse (Docker's noOverwriteDirNonDir). */
  noOverwriteDirNonDir?: boolean
  /**
   * A staged directory meets an existing symlink at `rel`: return an O_PATH fd
   * of the directory to merge into (resolved confined), or undefined to
   * replace the symlink with the directory.
   */
  followLinkDir?: (rel: string) => number | undefined
  /** Staged dirs at these paths do not pass their metadata to an existing directory (dirs implied by an archive). */
  keepDestMeta?: (rel: string) => boolean
  /**
   * Looks up and opens the destination's entries where the caller may not (a rootless runtime's keeper: a landing directory
   * only another id may search); by default the caller's own calls.
   */
  reads?: SourceReads
  /**
   * The writes made in the destination's directories (./landing's directWrites, or a rootless runtime's, made by its keeper
   * where the directory is another id's): entries renamed in, a merged directory's metadata and attributes, an old
   * directory removed once exchanged into the stage, a cross-mount entry's own directory, a bind-mounted file rewritten.
   */
  writes: LandingWrites
  /** Names a destination path in messages. */
  describe: (rel: string) => string
  /** Throws DirNonDirError for `rel`. */
  dirNonDir: (rel: string) => Error
}

/** A path below a merge's top, as named in messages and options. */
function childRel(rel: string, name: Name): string {
  return rel === '' ? nameStr(name) : `${rel}/${nameStr(name)}`
}

/** A directory being merged: its name and path, its staged entries still to move (last first), and whether the destination is a followed symlink's target. */
interface MergeLevel {
  name: Name
  rel: string
  rest: DirEntry[]
  followed: boolean
}

/**
 * Moves every entry of the staging dir `stagefd` into `destfd`: missing
 * entries are renamed in (each rename atomic), existing directories are
 * merged (and take the staged directory's metadata), anything else is
 * replaced atomically (rename, or RENAME_EXCHANGE then removal of the old
 * object when a directory and a non-directory meet). Entries that cross a
 * mount point are copied to a temporary name next to their destination, then
 * renamed. Both fds must be opened directories (not O_PATH for stagefd).
 * The directories merged are walked in a loop down two {@link DirChain}s:
 * any depth, with bounded fds and stack. `opts.reads` looks up and opens
 * what the caller may not in the destination (a directory only another id
 * inside may search); what is written there goes through `opts.rename`.
 */
export async function mergeInto(stagefd: number, destfd: number, opts: MergeOptions): Promise<void> {
  const src = new DirChain(stagefd, O_RDONLY)
  const dst = new DirChain(destfd, O_RDONLY)
  const open: MergeLevel[] = [{ name: '', rel: '', rest: listdir(stagefd).reverse(), followed: false }]
  try {
    while (open.length > 0) {
      const level = open[open.length - 1]
      const e = level.rest.pop()
      if (!e) {
        open.pop()
        if (open.length > 0) finishMergedDir(src, dst, level, opts)
        continue
      }
      const child = await mergeEntry(src, dst, e.name, childRel(level.rel, e.name), opts)
      if (child) open.push(child)
    }
  } finally {
    src.close()
    dst.close()
  }
}

/** Merges the staged `name` into the destination chain's top; a directory met by a directory is pushed onto both chains and returned, its entries to merge next. */
async function mergeEntry(src: DirChain, dst: DirChain, name: Name, r: string, opts: MergeOptions): Promise<MergeLevel | undefined> {
  const stagefd = src.top()
  const destfd = dst.top()
  const sst = lstatAt(stagefd, name)
  if (!sst) return undefined
  const dstat = lstatThrough(opts.reads, destfd, name)
  if (!dstat) {
    await moveEntry(stagefd, name, destfd, name, RENAME_NOREPLACE, opts)
    return undefined
  }
  const sdir = isDir(sst)
  let ddir = isDir(dstat)
  let target: number | undefined
  if (sdir && (dstat.mode & S_IFMT) === S_IFLNK && opts.followLinkDir) {
    target = opts.followLinkDir(r)
    if (target !== undefined) ddir = true
  }
  if (sdir && ddir) return descendBoth(src, dst, name, r, target, opts)
  if (opts.noOverwriteDirNonDir && sdir !== ddir) throw opts.dirNonDir(r)
  if (!bothRegular(sst, dstat) && isMountPoint(destfd, name, opts.reads)) throw new MountPointError(opts.describe(r), kindOf(sst))
  if (!sdir && !ddir) {
    await moveEntry(stagefd, name, destfd, name, 0, opts, sst, dstat)
    return undefined
  }
  // A directory and a non-directory: swap them atomically, then drop the old one.
  const { writes } = opts
  try {
    writes.rename(stagefd, name, destfd, name, RENAME_EXCHANGE)
  } catch (err) {
    if (errnoOf(err) !== 'EXDEV') throw err
    writes.removeTree(destfd, name)
    await moveEntry(stagefd, name, destfd, name, RENAME_NOREPLACE, opts)
    return undefined
  }
  writes.removeTree(stagefd, name)
  return undefined
}

/** Pushes the staged directory and its destination (`target`, a followed symlink's O_PATH fd, which is closed here) onto the chains. */
function descendBoth(src: DirChain, dst: DirChain, name: Name, r: string, target: number | undefined, opts: MergeOptions): MergeLevel {
  try {
    src.push(name)
  } catch (err) {
    if (target !== undefined) close(target)
    throw err
  }
  try {
    if (target === undefined) pushThrough(opts.reads, dst, name)
    else {
      const opened = (fd: number) => {
        try {
          return openat(fd, '.', O_RDONLY | O_DIRECTORY)
        } finally {
          close(fd)
        }
      }
      // Reopened as it was found: the symlink resolved again, confined by the caller.
      const reopen = () => {
        const again = opts.followLinkDir?.(r)
        if (again === undefined) throw new UnsafeEntryError(opts.describe(r), 'the directory it linked to was replaced during the copy')
        return opened(again)
      }
      const fd = opened(target)
      dst.push(name, fd, reopen)
    }
  } catch (err) {
    src.pop()
    throw err
  }
  return { name, rel: r, rest: listdir(src.top()).reverse(), followed: target !== undefined }
}

/** After its entries were merged: the destination takes the staged directory's metadata (not a followed link's target, not an implied one), and the staged one goes. */
function finishMergedDir(src: DirChain, dst: DirChain, level: MergeLevel, opts: MergeOptions): void {
  if (!level.followed && !opts.keepDestMeta?.(level.rel)) {
    const { writes } = opts
    writes.copyMeta(src.top(), dst.top(), opts.owner ? MC_OWNER : 0)
    writeXattrs(dst.top(), readXattrs(src.top()), level.rel, writes.setXattr)
  }
  src.pop()
  dst.pop()
  removeTree(src.top(), level.name)
}

/**
 * Before a merge moves anything: every existing destination directory that
 * will receive entries must be writable, so that a read-only mount inside the
 * destination fails the copy (EROFS) before any entry is moved. Walked like
 * {@link mergeInto}: in a loop down two chains.
 */
export function checkMergeWritable(stagefd: number, destfd: number, describe: (rel: string) => string, reads?: SourceReads): void {
  const src = new DirChain(stagefd, O_RDONLY)
  const dst = new DirChain(destfd, O_RDONLY)
  const open: { rel: string; rest: DirEntry[] }[] = []
  const visit = (rel: string) => {
    writableOrThrow(dst.top(), describe(rel))
    open.push({ rel, rest: listdir(src.top()).reverse() })
  }
  try {
    visit('')
    while (open.length > 0) {
      const level = open[open.length - 1]
      const e = level.rest.pop()
      if (!e) {
        open.pop()
        if (open.length > 0) {
          src.pop()
          dst.pop()
        }
        continue
      }
      const sst = lstatAt(src.top(), e.name)
      const dstat = lstatThrough(reads, dst.top(), e.name)
      if (!sst || !dstat || !isDir(sst) || !isDir(dstat)) continue
      src.push(e.name)
      try {
        pushThrough(reads, dst, e.name)
      } catch (err) {
        src.pop()
        throw err
      }
      visit(childRel(level.rel, e.name))
    }
  } finally {
    src.close()
    dst.close()
  }
}

/** Throws ReadOnlyError about `what` when the directory `fd` is on a read-only mount. */
function writableOrThrow(fd: number, what: string): void {
  try {
    fs.accessSync(`/proc/self/fd/${fd}`, fs.constants.W_OK)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EROFS') throw new ReadOnlyError(what)
  }
}

function bothRegular(a: RawStat, b: RawStat): boolean {
  return (a.mode & S_IFMT) === S_IFREG && (b.mode & S_IFMT) === S_IFREG
}

/** What a staged entry is, for an error. */
function kindOf(st: RawStat): string {
  const kinds: Record<number, string> = { [S_IFLNK]: 'a symlink', [S_IFDIR]: 'a directory', [S_IFREG]: 'a file' }
  return kinds[st.mode & S_IFMT] ?? 'a special file'
}

/** Renames (or, across mounts, copies then renames) `sname` to `dname`. */
async function moveEntry(sdir: number, sname: Name, ddir: number, dname: Name, flags: number, opts: MergeOptions, sst?: RawStat, dst?: RawStat): Promise<void> {
  const { writes } = opts
  if (sst && dst && bothRegular(sst, dst) && isMountPoint(ddir, dname, opts.reads)) {
    // The destination file is a mount point (a bind-mounted file): rewrite it in place.
    rewriteInPlace(sdir, sname, ddir, dname, opts.owner, writes)
    unlinkat(sdir, sname)
    return
  }
  try {
    writes.rename(sdir, sname, ddir, dname, flags)
    return
  } catch (err) {
    if (errnoOf(err) !== 'EXDEV') throw err
  }
  await copyAcross(sdir, sname, ddir, dname, flags, opts)
  removeTree(sdir, sname)
}

/**
 * `sname` copied onto the destination's mount (the stage is on another: a volume or tmpfs inside the landing
 * directory), then renamed to `dname`. The copy is written in a directory of its own made there through the
 * writes, the caller's (a rootless runtime's keeper makes it where the destination is another id's, and it is
 * the user's all the same): only that mkdir, the rename out of it and its removal touch the destination.
 */
async function copyAcross(sdir: number, sname: Name, ddir: number, dname: Name, flags: number, opts: MergeOptions): Promise<void> {
  const { writes } = opts
  const own = tempName('.mc-cross-')
  writes.mkdir(ddir, own, 0o700)
  let ownfd = -1
  try {
    ownfd = openDirThrough(opts.reads, ddir, own)
    const copier = new TreeCopier(ownfd, { owner: opts.owner, xattrs: true, allowDevices: true, describe: opts.describe })
    await copier.copy(sdir, sname, ownfd, sname, nameStr(sname))
    writes.rename(ownfd, sname, ddir, dname, flags)
    writes.rmdir(ddir, own)
  } catch (err) {
    removeStageQuietly(ddir, own, writes, ownfd)
    throw err
  } finally {
    if (ownfd >= 0) close(ownfd)
  }
}

/** The staged file's data and metadata written into the destination file itself, opened through `writes` (it may be another id's). */
function rewriteInPlace(sdir: number, sname: Name, ddir: number, dname: Name, owner: boolean, writes: LandingWrites): void {
  const infd = openRegular(sdir, sname, O_RDONLY).fd
  try {
    const outfd = writes.openWrite(ddir, dname)
    try {
      copyData(infd, outfd, -1)
      writes.copyMeta(infd, outfd, owner ? MC_OWNER : 0)
    } finally {
      close(outfd)
    }
  } finally {
    close(infd)
  }
}
