/**
 * How a copy out of a container (copyFrom, getArchive) opens what it reads.
 * By default the call itself; a rootless runtime gives one
 * that, when refused (a file or directory only another id inside the
 * container reads, a subordinate id on the host), has the keeper of the container's user
 * namespace open it on the same directory fd and reads the fd it gets back:
 * the directory stays resolved here, confined below the container's root.
 * A path through a directory only another id may search is resolved by the
 * keeper instead, from the container's root fd and confined as here
 * (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): only an O_PATH fd comes back.
 * Copies in (their destination), putArchive and statPath resolve their path
 * the same way ({@link openerThrough}); a commit reads its upper dir's
 * files, directories and user.* attributes (overlay's opaque mark) through it.
 *
 * @module
 */
import { SyscallError, errnoOf } from '../errors'
import { O_CLOEXEC, O_DIRECTORY, O_NOFOLLOW, O_PATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, openat2 } from '../sys/libc'
import { AT_EMPTY_PATH, O_RDONLY, close, fgetxattrBytes, fstatat, nameStr, openRegular, openat, type Name, type RawStat } from '../sys/fsops'
import type { DirChain } from './dir-chain'
import { IN_CONTAINER_ROOT, isDir, lstatAt, openIn, type OpenIn, type Side } from './resolve'

/** The opens a copy out makes of what it reads (a directory fd, a single name, never following a symlink). */
export interface SourceReads {
  /** The regular file `name` of `dirfd` opened for reading, with its stat; SyscallError EINVAL for anything else. */
  openRegular(dirfd: number, name: Name): { fd: number; stat: RawStat }
  /** The directory `name` of `dirfd` ('' for `dirfd` itself) opened for reading (its entries listed through the fd). */
  openDir(dirfd: number, name: Name): number
  /** `name` of `dirfd` itself, O_PATH (a symlink or FIFO the copy recreates from the fd). */
  openPath(dirfd: number, name: Name): number
  /** `path` (O_PATH, `flags` adding O_NOFOLLOW or O_DIRECTORY) resolved confined below the container root `rootfd` (RESOLVE_IN_ROOT). */
  openIn(rootfd: number, path: string, flags: number): number
  /** The attribute `name` of the open file `fd` (undefined when unset): user.* ones are read-checked like the data. */
  getxattr(fd: number, name: string): Buffer | undefined
  /**
   * `rel` below the root `rootfd` of an image layer, following no symlink at all (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS,
   * O_NOFOLLOW), opened with `flags`: O_PATH (with O_DIRECTORY), or O_RDONLY (with O_DIRECTORY) to read a regular file or directory.
   */
  openInLayer(rootfd: number, rel: string, flags: number): number
  /**
   * Single names of the directory `dirfd` (of a layer) opened at once as {@link SourceReads.openInLayer} opens them, at most
   * {@link openEachMax}: per name its fd (the caller owns it), or undefined when not opened (missing, or refused: open it alone
   * for its error). A tree walk's batch, where a rootless runtime's keeper would otherwise be asked once per name.
   */
  openEach(dirfd: number, names: string[], flags: number): (number | undefined)[]
}

/** Most names one {@link SourceReads.openEach} takes (the keeper's OPEN_EACH_MAX: the fds one answer carries). */
export const openEachMax = 32

/** A layer's lookups: never leaving it, never following a symlink (its content is untrusted). */
const IN_LAYER = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS

/** The calls themselves, as the caller. */
export const directReads: SourceReads = {
  openRegular: (dirfd, name) => openRegular(dirfd, name, O_RDONLY),
  openDir: (dirfd, name) => openat(dirfd, name === '' ? '.' : name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW),
  openPath: (dirfd, name) => openat(dirfd, name, O_PATH | O_NOFOLLOW),
  openIn: (rootfd, path, flags) => openat2(rootfd, path, O_PATH | O_CLOEXEC | flags, 0, IN_CONTAINER_ROOT),
  getxattr: fgetxattrBytes,
  openInLayer: (rootfd, rel, flags) => openat2(rootfd, rel, flags | O_NOFOLLOW | O_CLOEXEC, 0, IN_LAYER),
  openEach: (dirfd, names, flags) => names.map((name) => openedOrRefused(() => directReads.openInLayer(dirfd, name, flags))).map((r) => (r === 'refused' ? undefined : r)),
}

/** `open()`'s fd; undefined when it failed, 'refused' when the kernel refused the caller (EACCES, EPERM). */
export function openedOrRefused(open: () => number): number | undefined | 'refused' {
  try {
    return open()
  } catch (err) {
    const e = errnoOf(err)
    return e === 'EACCES' || e === 'EPERM' ? 'refused' : undefined
  }
}

/** `path` of `side` opened (O_PATH), through `reads` on a container side (a directory on the way only another id may search). */
export function openInThrough(reads: SourceReads | undefined, side: Side, path: string, flags: number): number {
  return reads && side.container ? reads.openIn(side.rootfd, path, flags) : openIn(side, path, flags)
}

/** {@link openInThrough} as an {@link OpenIn}: what resolveInScope and openInMaybe take. */
export function openerThrough(reads: SourceReads | undefined): OpenIn {
  return reads ? (side, path, flags) => openInThrough(reads, side, path, flags) : openIn
}

/** The directory `name` of `dirfd` itself (O_PATH, not followed), through its O_PATH fd from `reads` when the caller may not look it up; SyscallError ENOTDIR when it is not one. */
export function openDirPathThrough(reads: SourceReads | undefined, dirfd: number, name: Name): number {
  try {
    return openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW)
  } catch (err) {
    if (!refused(reads, err, name)) throw err
    const fd = reads.openPath(dirfd, name)
    if (isDir(fstatat(fd, '', AT_EMPTY_PATH))) return fd
    close(fd)
    throw new SyscallError('open', 'ENOTDIR', nameStr(name))
  }
}

/** The directory `name` of `dirfd` ("" for `dirfd` itself) opened for reading, through `reads` when the caller may not list it. */
export function openDirThrough(reads: SourceReads | undefined, dirfd: number, name: Name): number {
  return (reads ?? directReads).openDir(dirfd, name)
}

/** Whether `err` is the kernel refusing the caller (EACCES, EPERM) `name`, which `reads` may open instead. */
export function refused(reads: SourceReads | undefined, err: unknown, name: Name): reads is SourceReads {
  const e = errnoOf(err)
  return !!reads && (e === 'EACCES' || e === 'EPERM')
}

/** lstat of `name` of `dirfd` (undefined when missing), through its O_PATH fd from `reads` when the caller may not look it up. */
export function lstatThrough(reads: SourceReads | undefined, dirfd: number, name: Name): RawStat | undefined {
  try {
    return lstatAt(dirfd, name)
  } catch (err) {
    if (!refused(reads, err, name)) throw err
    let fd: number
    try {
      fd = reads.openPath(dirfd, name)
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return undefined
      throw e
    }
    return withFd(fd, (f) => fstatat(f, '', AT_EMPTY_PATH))
  }
}

/** Pushes the directory `name` onto `chain`, opened (and reopened) through `reads` when the caller may not. */
export function pushThrough(reads: SourceReads | undefined, chain: DirChain, name: Name): void {
  try {
    chain.push(name)
  } catch (err) {
    if (!refused(reads, err, name)) throw err
    chain.push(name, reads.openDir(chain.top(), name), (parent, child) => reads.openDir(parent, child))
  }
}

/** `use(dirfd, name)`, or when the caller may not reach `name`, `use(fd, '')` on its O_PATH fd from `reads` (a symlink, a FIFO). */
export function atPathThrough<T>(reads: SourceReads | undefined, dirfd: number, name: Name, use: (dir: number, name: Name) => T): T {
  try {
    return use(dirfd, name)
  } catch (err) {
    if (!refused(reads, err, name)) throw err
    return withFd(reads.openPath(dirfd, name), (fd) => use(fd, ''))
  }
}

function withFd<T>(fd: number, use: (fd: number) => T): T {
  try {
    return use(fd)
  } finally {
    close(fd)
  }
}
