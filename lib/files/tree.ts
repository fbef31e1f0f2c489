/**
 * The fd-relative copy engine: copies a file tree between two directory fds
 * (results are built in a hidden staging directory, then moved into place by
 * ./merge), and removes trees, all without ever following a symlink.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { SyscallError, errnoOf } from '../errors'
import { O_DIRECTORY, O_NOFOLLOW, O_PATH, RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, openat2 } from '../sys/libc'
import { mapLimit } from '../sys/throttle'
import {
  AT_EMPTY_PATH,
  AT_REMOVEDIR,
  DT_DIR,
  DT_LNK,
  DT_REG,
  MC_ALLOW_DEV,
  MC_LINKCHECK,
  MC_OWNER,
  MC_XATTRS,
  MC_SYNC_LIMIT,
  O_CREAT,
  O_EXCL,
  O_RDONLY,
  O_WRONLY,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  close,
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
  setMeta,
  unlinkat,
  nameStr,
  type CopyFileResult,
  type DirEntry,
  type Name,
  type RawStat,
} from '../sys/fsops'
import { DirChain } from './dir-chain'
import { UnsafeEntryError } from './errors'
import { isDir, lstatAt } from './resolve'
import { atPathThrough, lstatThrough, pushThrough, refused, type SourceReads } from './source-reads'

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
  /** Opens what the caller may not (EACCES, EPERM): a rootless runtime's keeper for files and directories of another id. */
  reads?: SourceReads
  /**
   * Carry the user.* and trusted.* attributes a layer keeps, not only file capabilities as `docker cp` does: a merge's
   * copy of staged entries across a mount, which hold what an archive gave them.
   */
  xattrs?: boolean
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
    this.flags = (opts.owner ? MC_OWNER : 0) | (opts.xattrs ? MC_XATTRS : 0)
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
        const st = lstatThrough(this.opts.reads, src.top(), sname)
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
        sourceStage(() => atPathThrough(this.opts.reads, sdir, sname, (dir, name) => copySymlink(dir, name, ddir, dname, this.flags)))
        return
      case S_IFIFO:
        sourceStage(() => atPathThrough(this.opts.reads, sdir, sname, (dir, name) => copySpecial(dir, name, ddir, dname, this.flags)))
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
    sourceStage(() => pushThrough(this.opts.reads, src, sname))
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
    let r = sourceStage(() => this.copyFile(sdir, sname, ddir, dname, check))
    if (r.kind === 'linked') {
      const key = `${r.stat.dev}:${r.stat.ino}`
      const first = this.links.get(key)
      if (first !== undefined && this.linkTo(first, ddir, dname)) return
      this.links.set(key, rel)
      r = this.copyFile(sdir, sname, ddir, dname, 0)
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

  /**
   * copyFile (large files returned open); a source the caller may not open (EACCES, EPERM) is opened
   * through `reads` when given, and returned open with its new destination file for the same async copy.
   */
  private copyFile(sdir: number, sname: Name, ddir: number, dname: Name, extra: number): CopyFileResult {
    try {
      return copyFile(sdir, sname, ddir, dname, this.flags | extra | MC_SYNC_LIMIT, SYNC_LIMIT)
    } catch (err) {
      if (!refused(this.opts.reads, err, sname)) throw err
    }
    const { fd: infd, stat } = this.opts.reads!.openRegular(sdir, sname)
    try {
      return { kind: 'open', stat, infd, outfd: openat(ddir, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600) }
    } catch (err) {
      close(infd)
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
      if (level.entries.length === 0 && level.rounds++ < 100) level.entries = unlessGone(() => listdir(fd), [])
      const e = level.entries.pop()
      if (!e) {
        chain.pop()
        levels.pop()
        unlessGone(() => unlinkat(chain.top(), level.name, AT_REMOVEDIR), undefined)
        continue
      }
      const est = lstatAt(fd, e.name)
      if (!est) continue
      if (!isDir(est)) {
        unlessGone(() => unlinkat(fd, e.name), undefined)
        continue
      }
      pushOwnDirectory(chain, fd, e.name, est)
      levels.push({ name: e.name, entries: [], rounds: 0 })
    }
  } finally {
    chain.close()
  }
}

/**
 * Enters the directory `name` of `dirfd` on `chain`. One of ours that we may not search (overlay's
 * `work/work`, made mode 000 by the kernel: a rootless runtime with no subordinate range owns it, as
 * it owns every file of its root, but has no CAP_DAC_OVERRIDE to enter it) is made 0700 first, through
 * an O_PATH fd of it (its magic link in /proc names the directory itself, never a symlink planted since).
 */
function pushOwnDirectory(chain: DirChain, dirfd: number, name: Name, st: { uid: number }): void {
  try {
    chain.push(name)
  } catch (err) {
    if (errnoOf(err) !== 'EACCES' || st.uid !== process.geteuid?.()) throw err
    const pinned = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW)
    try {
      fs.chmodSync(`/proc/self/fd/${pinned}`, 0o700)
    } finally {
      close(pinned)
    }
    chain.push(name)
  }
}

/**
 * `call`, or `gone` when what it works on was removed meanwhile by someone
 * else (a container's own cleanup racing a removal): unlinkat of a missing
 * entry, and getdents of a deleted directory, are ENOENT.
 */
function unlessGone<T>(call: () => T, gone: T): T {
  try {
    return call()
  } catch (err) {
    if (err instanceof SyscallError && err.errno === 'ENOENT') return gone
    throw err
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

/**
 * Removes the tree at `dir` on the threadpool, up to 8 entries of a directory at a time (readdir,
 * unlink, rmdir; no lstat: the listing's types say what each entry is, and symlinks are unlinked,
 * never followed). For trees removed in the background (a removed container's directory, a dozen
 * entries): fs.promises.rm walks them one call at a time, with an lstat per entry, and its chain of
 * calls cost the event loop about twice as much. On a failure, what is under way ends first, then it
 * rejects, the rest left (for a removal that can do what this one cannot: a tree deeper than PATH_MAX).
 */
export async function removeTreeConcurrently(dir: string): Promise<void> {
  const entries = await fs.promises.readdir(dir, { withFileTypes: true })
  await mapLimit(entries, 8, (e) => {
    const entry = path.join(dir, e.name)
    return e.isDirectory() ? removeTreeConcurrently(entry) : fs.promises.unlink(entry)
  })
  await fs.promises.rmdir(dir)
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
