/**
 * The fd-relative copy engine: copies a file tree between two directory fds,
 * builds results in a hidden staging directory and moves them into place with
 * renames, and removes trees, all without ever following a symlink.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { SyscallError, errnoOf } from '../errors'
import { O_DIRECTORY, O_PATH, RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, openat2 } from '../sys/libc'
import {
  AT_EMPTY_PATH,
  AT_REMOVEDIR,
  DT_DIR,
  DT_LNK,
  DT_REG,
  MC_ALLOW_DEV,
  MC_LINKCHECK,
  MC_OWNER,
  MC_SYNC_LIMIT,
  O_RDONLY,
  O_TRUNC,
  O_WRONLY,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  close,
  copyData,
  copyDataAsync,
  copyFile,
  copyMeta,
  copySpecial,
  copySymlink,
  finishFile,
  fstatat,
  linkat,
  listdir,
  mkdirat,
  openat,
  openRegular,
  renameat2,
  setMeta,
  unlinkat,
  nameStr,
  type DirEntry,
  type Name,
  type RawStat,
} from '../sys/fsops'
import { DirChain } from './dir-chain'
import { ReadOnlyError, UnsafeEntryError } from './errors'
import { isDir, lstatAt } from './resolve'
import { readXattrs, writeXattrs } from './xattrs'

/** Files up to this size are copied in one blocking call; larger ones on a worker thread in chunks. */
const SYNC_LIMIT = 4 << 20
const CHUNK = 64 << 20
/** Yield to the event loop (and check the abort signal) every this many entries. */
const YIELD_EVERY = 256

/** A random hidden name for staging a copy next to its destination. */
export function tempName(prefix = '.mc-cp-'): string {
  return prefix + randomBytes(6).toString('hex')
}

/** Errors raised while opening a source object, before anything was created at the destination. */
const sourceChanged = new WeakSet<object>()

function sourceStage<T>(fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof SyscallError) sourceChanged.add(err)
    throw err
  }
}

export interface CopierOptions {
  /** Copy uid/gid (ignored where the kernel refuses). */
  owner: boolean
  /** Recreate device nodes; otherwise they are refused with EUNSAFE. */
  allowDevices: boolean
  signal?: AbortSignal
  /** A directory never descended into (the staging dir: a source that contains its own destination). */
  exclude?: { dev: bigint; ino: bigint }
  /** Names the source in messages (e.g. "container:/etc" + rel). */
  describe: (rel: string) => string
}

/**
 * Copies objects from source dir fds to destination dir fds, keeping modes,
 * times, owners, symlinks (as links), hard links within the copy, empty dirs,
 * FIFOs. Every source object is opened with O_NOFOLLOW relative to its
 * parent's fd; every destination object is created new (O_EXCL, mkdirat,
 * symlinkat, mknodat) inside the destination base.
 */
export class TreeCopier {
  private readonly links = new Map<string, string>()
  private count = 0
  private readonly flags: number

  /** @param destBase - dir fd that relative destination paths (for hard links) start from. */
  constructor(
    private readonly destBase: number,
    private readonly opts: CopierOptions,
  ) {
    this.flags = opts.owner ? MC_OWNER : 0
  }

  /**
   * Copies `sname` of `sdir` (or `sdir` itself, an O_PATH fd, when sname is
   * "") to the new name `dname` in `ddir`. `rel` is dname's path from destBase.
   */
  async copy(sdir: number, sname: Name, ddir: number, dname: Name, rel: string, dtype = 0): Promise<void> {
    // The directories being copied, source and destination: bounded fds however deep the tree.
    const src = new DirChain(sdir, O_RDONLY)
    const dst = new DirChain(ddir, O_RDONLY)
    try {
      await this.copyEntry(src, sname, dst, dname, rel, dtype)
    } finally {
      src.close()
      dst.close()
    }
  }

  /** Copies `sname` of the source chain's top to `dname` of the destination chain's top. */
  private async copyEntry(src: DirChain, sname: Name, dst: DirChain, dname: Name, rel: string, dtype: number): Promise<void> {
    if (++this.count % YIELD_EVERY === 0) await new Promise<void>((r) => setImmediate(r))
    this.opts.signal?.throwIfAborted()
    let type = dtype === DT_DIR ? S_IFDIR : dtype === DT_REG ? S_IFREG : dtype === DT_LNK ? S_IFLNK : 0
    for (let attempt = 0; ; attempt++) {
      if (type === 0) {
        const st = lstatAt(src.top(), sname)
        if (!st) return // vanished meanwhile: like tar, skip it
        type = st.mode & S_IFMT
      }
      try {
        await this.copyAs(type, src, sname, dst, dname, rel)
        return
      } catch (err) {
        // The source changed type between listing and opening (a container
        // swapping a dir for a symlink): look again, once.
        const e = errnoOf(err)
        const changed = sourceChanged.has(err as object)
        sourceChanged.delete(err as object)
        if (changed && attempt === 0 && (e === 'ELOOP' || e === 'ENOTDIR' || e === 'EINVAL' || e === 'ENOENT')) {
          type = 0
          continue
        }
        throw err
      }
    }
  }

  private async copyAs(type: number, src: DirChain, sname: Name, dst: DirChain, dname: Name, rel: string): Promise<void> {
    if (type === S_IFDIR) return this.copyDir(src, sname, dst, dname, rel)
    const sdir = src.top()
    const ddir = dst.top()
    switch (type) {
      case S_IFREG:
        return this.copyReg(sdir, sname, ddir, dname, rel)
      case S_IFLNK:
        sourceStage(() => copySymlink(sdir, sname, ddir, dname, this.flags))
        return
      case S_IFIFO:
        sourceStage(() => copySpecial(sdir, sname, ddir, dname, this.flags))
        return
      case S_IFCHR:
      case S_IFBLK:
        if (!this.opts.allowDevices) throw new UnsafeEntryError(this.opts.describe(rel), 'device nodes are not copied out of a container onto the host')
        copySpecial(sdir, sname, ddir, dname, this.flags | MC_ALLOW_DEV)
        return
      default:
        return // sockets and unknown types are skipped, as by tar
    }
  }

  /** Copies a directory; each level's fds come from the chains (`top()` again after every child: it may have been reopened). */
  private async copyDir(src: DirChain, sname: Name, dst: DirChain, dname: Name, rel: string): Promise<void> {
    sourceStage(() => src.push(sname))
    try {
      const ex = this.opts.exclude
      if (ex) {
        const st = fstatat(src.top(), '', AT_EMPTY_PATH)
        if (st.ino === ex.ino && st.dev === ex.dev) return
      }
      mkdirat(dst.top(), dname, 0o700)
      dst.push(dname)
      try {
        for (const e of listdir(src.top())) await this.copyEntry(src, e.name, dst, e.name, rel === '' ? nameStr(e.name) : `${rel}/${nameStr(e.name)}`, e.type)
        copyMeta(src.top(), dst.top(), this.flags)
      } finally {
        dst.pop()
      }
    } finally {
      src.pop()
    }
  }

  private async copyReg(sdir: number, sname: Name, ddir: number, dname: Name, rel: string): Promise<void> {
    const check = sname === '' ? 0 : MC_LINKCHECK
    let r = sourceStage(() => copyFile(sdir, sname, ddir, dname, this.flags | check | MC_SYNC_LIMIT, SYNC_LIMIT))
    if (r.kind === 'linked') {
      const key = `${r.stat.dev}:${r.stat.ino}`
      const first = this.links.get(key)
      if (first !== undefined && this.linkTo(first, ddir, dname)) return
      this.links.set(key, rel)
      r = copyFile(sdir, sname, ddir, dname, this.flags | MC_SYNC_LIMIT, SYNC_LIMIT)
    }
    if (r.kind !== 'open') return
    try {
      for (;;) {
        this.opts.signal?.throwIfAborted()
        const n = await copyDataAsync(r.infd, r.outfd, CHUNK, r.stat.blocks * 512 < r.stat.size)
        if (n < CHUNK) break
      }
      const { infd, outfd } = r
      r = { kind: 'done', stat: r.stat }
      finishFile(infd, outfd, this.flags)
    } catch (err) {
      if (r.kind === 'open') {
        close(r.infd)
        close(r.outfd)
      }
      try {
        unlinkat(ddir, dname)
      } catch {}
      throw err
    }
  }

  /** Hard-links the already copied `firstRel` as `dname` in `ddir`; false when it is gone (then copy instead). */
  private linkTo(firstRel: string, ddir: number, dname: Name): boolean {
    const slash = firstRel.lastIndexOf('/')
    const parent = slash < 0 ? '.' : firstRel.slice(0, slash)
    const base = firstRel.slice(slash + 1)
    let pfd: number
    try {
      pfd = openat2(this.destBase, parent, O_PATH | O_DIRECTORY, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
    } catch {
      return false
    }
    try {
      linkat(pfd, base, ddir, dname, 0)
      return true
    } catch (err) {
      if (errnoOf(err) === 'EEXIST') throw err
      return false
    } finally {
      close(pfd)
    }
  }
}

/**
 * Removes `name` in `dirfd` and everything below it, never following symlinks. Missing is fine.
 * Iterative over a bounded {@link DirChain}: a tree of any depth is removed
 * with at most a hundred or so fds open and no recursion.
 */
export function removeTree(dirfd: number, name: Name): void {
  const st = lstatAt(dirfd, name)
  if (!st) return
  if (!isDir(st)) {
    unlinkat(dirfd, name)
    return
  }
  const chain = new DirChain(dirfd, O_RDONLY)
  /** Per level of the chain: its name, the entries still to remove, how often it was listed. */
  const levels: { name: Name; entries: DirEntry[]; rounds: number }[] = []
  try {
    chain.push(name)
    levels.push({ name, entries: [], rounds: 0 })
    while (levels.length > 0) {
      const level = levels[levels.length - 1]
      const fd = chain.top()
      // Listed again until empty (entries may appear meanwhile), but not forever.
      if (level.entries.length === 0 && level.rounds++ < 100) level.entries = listdir(fd)
      const e = level.entries.pop()
      if (!e) {
        chain.pop()
        levels.pop()
        unlinkat(chain.top(), level.name, AT_REMOVEDIR)
        continue
      }
      const est = lstatAt(fd, e.name)
      if (!est) continue
      if (!isDir(est)) {
        unlinkat(fd, e.name)
        continue
      }
      chain.push(e.name)
      levels.push({ name: e.name, entries: [], rounds: 0 })
    }
  } finally {
    chain.close()
  }
}

/**
 * Removes the host path `dir` and everything below it, never following a
 * symlink, even while an untrusted container keeps writing into it (a
 * volume removed with `force`): every level is held by fd. Missing is fine.
 */
export function removeTreeAt(dir: string): void {
  let parent: number
  try {
    parent = fs.openSync(path.dirname(dir), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  try {
    removeTree(parent, path.basename(dir))
  } finally {
    fs.closeSync(parent)
  }
}

/** Like {@link removeTreeAt}, ignoring errors (cleanup paths). */
export function removeTreeQuietlyAt(dir: string): void {
  try {
    removeTreeAt(dir)
  } catch {}
}

/** Like {@link removeTree}, ignoring errors (cleanup paths). */
export function removeTreeQuietly(dirfd: number, name: Name): void {
  try {
    removeTree(dirfd, name)
  } catch {}
}

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
 * any depth, with bounded fds and stack.
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
  const dstat = lstatAt(destfd, name)
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
  if (!sdir && !ddir) {
    await moveEntry(stagefd, name, destfd, name, 0, opts, sst, dstat)
    return undefined
  }
  // A directory and a non-directory: swap them atomically, then drop the old one.
  try {
    renameat2(stagefd, name, destfd, name, RENAME_EXCHANGE)
  } catch (err) {
    if (errnoOf(err) !== 'EXDEV') throw err
    removeTree(destfd, name)
    await moveEntry(stagefd, name, destfd, name, RENAME_NOREPLACE, opts)
    return undefined
  }
  removeTree(stagefd, name)
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
    if (target === undefined) dst.push(name)
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
    copyMeta(src.top(), dst.top(), opts.owner ? MC_OWNER : 0)
    writeXattrs(dst.top(), readXattrs(src.top()), level.rel)
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
export function checkMergeWritable(stagefd: number, destfd: number, describe: (rel: string) => string): void {
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
      const dstat = lstatAt(dst.top(), e.name)
      if (!sst || !dstat || !isDir(sst) || !isDir(dstat)) continue
      src.push(e.name)
      try {
        dst.push(e.name)
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

/** Renames (or, across mounts, copies then renames) `sname` to `dname`. */
async function moveEntry(sdir: number, sname: Name, ddir: number, dname: Name, flags: number, opts: MergeOptions, sst?: RawStat, dst?: RawStat): Promise<void> {
  try {
    renameat2(sdir, sname, ddir, dname, flags)
    return
  } catch (err) {
    const e = errnoOf(err)
    if (e === 'EBUSY' && sst && dst && (sst.mode & S_IFMT) === S_IFREG && (dst.mode & S_IFMT) === S_IFREG) {
      // The destination file is a mount point (a bind-mounted file): rewrite it in place.
      rewriteInPlace(sdir, sname, ddir, dname, opts.owner)
      unlinkat(sdir, sname)
      return
    }
    if (e !== 'EXDEV') throw err
  }
  const tmp = tempName()
  const copier = new TreeCopier(ddir, { owner: opts.owner, allowDevices: true, describe: opts.describe })
  try {
    await copier.copy(sdir, sname, ddir, tmp, tmp)
    renameat2(ddir, tmp, ddir, dname, flags)
  } catch (err) {
    removeTreeQuietly(ddir, tmp)
    throw err
  }
  removeTree(sdir, sname)
}

function rewriteInPlace(sdir: number, sname: Name, ddir: number, dname: Name, owner: boolean): void {
  const infd = openRegular(sdir, sname, O_RDONLY).fd
  try {
    const outfd = openRegular(ddir, dname, O_WRONLY | O_TRUNC).fd
    try {
      copyData(infd, outfd, -1)
      copyMeta(infd, outfd, owner ? MC_OWNER : 0)
    } finally {
      close(outfd)
    }
  } finally {
    close(infd)
  }
}

/** Puts back the landing dir's mtime after a failed copy (the staging dir came and went). */
export function restoreMtime(landing: number, before: RawStat): void {
  try {
    const fd = openat(landing, '.', O_RDONLY | O_DIRECTORY)
    try {
      setMeta(fd, '', { mtime: { sec: before.mtimeSec, nsec: before.mtimeNsec } })
    } finally {
      close(fd)
    }
  } catch {}
}
