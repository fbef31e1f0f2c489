/**
 * statPath: what Docker's HEAD /containers/{id}/archive returns.
 *
 * @module
 */
import { SyscallError } from '../errors'
import { O_DIRECTORY, O_PATH } from '../sys/libc'
import { close, type RawStat } from '../sys/fsops'
import { PathNotFoundError, type FilesErrorReason } from './errors'
import { lstatThrough, openInThrough, openerThrough, type SourceReads } from './source-reads'
import { closeSide, containerSide, isLink, parsePath, resolveInScope, type ParsedPath, type Side } from './resolve'

/** The stat of a container path. */
export interface PathStat {
  /** Last component of the path ("/" for the root). */
  name: string
  /** Size in bytes (st_size: for a symlink, the length of its target text). */
  size: number
  /** Full st_mode: file type bits (0o170000 mask) and permission bits. */
  mode: number
  /** Last modification time, to the millisecond. */
  mtime: Date
  /** For a symlink: the absolute path it resolves to inside the container (Docker's linkTarget); "" otherwise. */
  linkTarget: string
}

export function mtimeOf(st: RawStat): Date {
  return new Date(st.mtimeSec * 1000 + Math.floor(st.mtimeNsec / 1e6))
}

/**
 * Opens a container path the way Docker's archive endpoints do: the parent is
 * resolved inside the root, the last component is not followed unless the
 * path ends in "/" or "/." (or is the root) or `how.followLink` (a copy's
 * `followLink`). Returns dirfd+name (name "" = dirfd is the object, O_PATH)
 * and its lstat; throws PathNotFoundError with `how.missing` (default
 * 'path-missing').
 */
export function openPath(side: Side, p: ParsedPath, reads?: SourceReads, how: { followLink?: boolean; missing?: FilesErrorReason } = {}): { dirfd: number; name: string; stat: RawStat } {
  const follow = how.followLink || p.trailingSlash || p.base === ''
  const missing = how.missing ?? 'path-missing'
  let fd: number
  try {
    fd = openInThrough(reads, side, follow ? p.clean : p.parent, follow ? O_PATH : O_PATH | O_DIRECTORY)
  } catch (err) {
    if (err instanceof SyscallError && (err.errno === 'ENOENT' || err.errno === 'ENOTDIR' || err.errno === 'ELOOP'))
      throw new PathNotFoundError(side.display(p.raw), missing, { cause: err })
    throw err
  }
  const name = follow ? '' : p.base
  const stat = lstatThrough(reads, fd, name)
  if (!stat) {
    close(fd)
    throw new PathNotFoundError(side.display(p.raw), missing)
  }
  return { dirfd: fd, name, stat }
}

/** The {@link PathStat} of `p`, whose lstat is `st`; a symlink's target resolved through `reads` where the caller may not. */
export function pathStatOf(side: Side, p: ParsedPath, st: RawStat, reads?: SourceReads): PathStat {
  return {
    name: p.base === '' ? '/' : p.base,
    size: st.size,
    mode: st.mode,
    mtime: mtimeOf(st),
    linkTarget: isLink(st) ? resolveInScope(side, p.clean, openerThrough(reads)) : '',
  }
}

/** Stats a container path without following a final symlink. `root` is the container's root dir; `reads` resolves what the caller may not (a rootless runtime's keeper). */
export async function statPath(root: string, path: string, reads?: SourceReads): Promise<PathStat> {
  const side = containerSide(root)
  try {
    const p = parsePath(side, path)
    const o = openPath(side, p, reads)
    close(o.dirfd)
    return pathStatOf(side, p, o.stat, reads)
  } finally {
    closeSide(side)
  }
}
