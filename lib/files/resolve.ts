/**
 * Path handling on both sides of a copy. A {@link Side} is a root directory
 * fd plus openat2 resolve flags: the container side resolves every path with
 * RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, so `..`, absolute symlinks and
 * symlink chains stay inside the container's root whatever the container does
 * to its files meanwhile; the host side resolves normally from "/".
 *
 * Beyond the first openat2, everything is done relative to the fds it returns
 * with single path components and no symlink following (see lib/sys/fsops).
 *
 * @module
 */
import * as path from 'node:path'
import { InvalidArgumentError, SyscallError } from '../errors'
import { AT_FDCWD, O_CLOEXEC, O_DIRECTORY, O_NOFOLLOW, O_PATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2 } from '../sys/libc'
import { AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, S_IFLNK, S_IFMT, close, fstatat, readlinkat, type Name, type RawStat } from '../sys/fsops'
import { ReadOnlyError } from './errors'

/** One side of a copy: a root fd and how paths are resolved under it. */
export interface Side {
  readonly rootfd: number
  readonly resolve: number
  readonly container: boolean
  /** The path as shown in messages. */
  display(p: string): string
}

/** How a container side resolves every path: confined below its root (`..`, absolute symlinks), no magic links. */
export const IN_CONTAINER_ROOT = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS

/** Opens `root` (a container's root dir, e.g. /proc/<pid>/root) as a confined side. Close with {@link closeSide}. */
export function containerSide(root: string): Side {
  const rootfd = openRoot(root)
  return { rootfd, resolve: IN_CONTAINER_ROOT, container: true, display: (p) => `container:${p}` }
}

/** The host's filesystem, resolved normally. */
export function hostSide(): Side {
  const rootfd = openRoot('/')
  return { rootfd, resolve: 0, container: false, display: (p) => p }
}

function openRoot(root: string): number {
  if (!path.isAbsolute(root)) throw new InvalidArgumentError(`container root must be an absolute path, got "${root}"`)
  try {
    return openat2(AT_FDCWD, root, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0)
  } catch (err) {
    if (err instanceof SyscallError && (err.errno === 'ENOENT' || err.errno === 'ENOTDIR'))
      throw new InvalidArgumentError(`container root ${root} does not exist or is not a directory (is the container running, or its rootfs mounted?)`)
    throw err
  }
}

export function closeSide(side: Side): void {
  close(side.rootfd)
}

/** A path as the caller wrote it, cleaned Docker-style. */
export interface ParsedPath {
  raw: string
  /** Absolute, lexically cleaned (`..` never goes above /). */
  clean: string
  /** Last component of `clean`; "" for the root. */
  base: string
  parent: string
  /** Ends with "/" (or "/." or is "."). */
  trailingSlash: boolean
  /** Ends with "/." (or is "."): "the contents of". */
  dotSuffix: boolean
}

/** Parses a path of `side`: relative container paths are relative to the container's /, relative host paths to the cwd. */
export function parsePath(side: Side, raw: string): ParsedPath {
  if (typeof raw !== 'string' || raw === '') throw new InvalidArgumentError('path must be a non-empty string')
  if (raw.includes('\0')) throw new InvalidArgumentError(`path contains a NUL byte: ${JSON.stringify(raw)}`)
  const dotSuffix = raw === '.' || raw.endsWith('/.')
  const trailingSlash = dotSuffix || raw.endsWith('/')
  const clean = side.container ? path.posix.resolve('/', raw) : path.resolve(raw)
  const base = clean === '/' ? '' : path.posix.basename(clean)
  return { raw, clean, base, parent: path.posix.dirname(clean), trailingSlash, dotSuffix }
}

/** openat2 under the side's root; the returned fd must be closed. */
export function openIn(side: Side, p: string, flags: number): number {
  return openat2(side.rootfd, p, flags | O_CLOEXEC, 0, side.resolve)
}

/** How a path of a side is opened: {@link openIn}, or one that has a rootless runtime's keeper resolve what the caller may not (see ./source-reads). */
export type OpenIn = (side: Side, p: string, flags: number) => number

/** openat2 under the root (through `open`), or undefined when a component is missing or not a directory. */
export function openInMaybe(side: Side, p: string, flags: number, open: OpenIn = openIn): number | undefined {
  try {
    return open(side, p, flags)
  } catch (err) {
    if (err instanceof SyscallError && (err.errno === 'ENOENT' || err.errno === 'ENOTDIR')) return undefined
    throw err
  }
}

/** Opens the directory `p` (O_PATH, through `open`), or undefined when it is missing or not a directory. */
export function openDirMaybe(side: Side, p: string, open: OpenIn = openIn): number | undefined {
  return openInMaybe(side, p, O_PATH | O_DIRECTORY, open)
}

export function isDir(st: RawStat): boolean {
  return (st.mode & S_IFMT) === 0o040000
}
export function isLink(st: RawStat): boolean {
  return (st.mode & S_IFMT) === S_IFLNK
}
/**
 * Follows every symlink of `clean` inside the side's root, like Docker's
 * FollowSymlinkInScope, and returns the resulting absolute path (whose tail
 * may not exist). Only used to *name* things (the destination of a copy,
 * statPath's linkTarget): every access still goes through openat2 under the
 * root, so a container racing this walk cannot make it reach outside.
 * `open` opens each component (a rootless runtime's keeper resolves those
 * behind a directory only another id may search: the O_PATH fds it gives
 * are stat'ed and their links read without any permission check).
 */
export function resolveInScope(side: Side, clean: string, open: OpenIn = openIn): string {
  let todo = clean.split('/').filter((c) => c !== '')
  let out: string[] = []
  let hops = 0
  while (todo.length > 0) {
    const c = todo.shift()!
    if (c === '.') continue
    if (c === '..') {
      out.pop()
      continue
    }
    const p = '/' + [...out, c].join('/')
    const fd = openInMaybe(side, p, O_PATH | O_NOFOLLOW, open)
    if (fd === undefined) return '/' + [...out, c, ...todo].join('/')
    try {
      const st = fstatat(fd, '', AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)
      if (!isLink(st)) {
        out.push(c)
        continue
      }
      if (++hops > 40) throw new SyscallError('resolve', 'ELOOP', side.display(clean))
      const target = readlinkat(fd, '')
      if (target.startsWith('/')) out = []
      todo = [...target.split('/').filter((x) => x !== ''), ...todo]
    } finally {
      close(fd)
    }
  }
  return '/' + out.join('/')
}

/** The fstat of a path's last component without following it, or undefined when missing. */
export function lstatAt(dirfd: number, name: Name): RawStat | undefined {
  return name === '' ? fstatat(dirfd, '', AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) : fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW, true)
}

/** Rethrows EROFS as {@link ReadOnlyError} about `p`. */
export function mapWriteError(err: unknown, p: string): unknown {
  if (err instanceof SyscallError && err.errno === 'EROFS') return new ReadOnlyError(p, { cause: err })
  return err
}
