/**
 * A finished container's overlay upper dir made into the tree that
 * unpacking its layer tar (`layerFromUpper`) would give, so that the store
 * can keep the dir itself as the layer instead of writing every file again:
 * mtimes truncated to the whole seconds the tar holds, and the attributes
 * the tar does not carry removed (overlay's bookkeeping such as
 * trusted.overlay.origin and .impure, ACLs), overlay's opaque mark kept.
 * What the tar cannot say as the tree says it (a socket, which the tar
 * drops; a name starting with `.wh.`, which its unpack reads as a whiteout;
 * an opaque mark other than "y"; a redirect or metacopy mark, whose entry's
 * content is in a lower; an mtime outside the tar's range) makes the
 * dir not adoptable: the caller then stores the tar as before. So does a
 * file refusing those changes (an immutable one; on an SELinux host every
 * file's security.selinux, which no one may remove).
 *
 * Also {@link clampMtimes} (sourceDateEpoch), and the layer's size, on the
 * same walk (the store then needs no walk of its own to size it). The walk
 * goes fd by fd down a {@link DirChain}, so a tree of any depth is walked.
 *
 * @module
 */
import { SyscallError } from '../errors'
import { AT_FDCWD, O_DIRECTORY, openat2 } from '../sys/libc'
import { O_RDONLY, S_IFMT, S_IFSOCK, close, lgetxattr, listdir, llistxattr, lremovexattr, nameStr, setMeta, type DirEntry, type Name, type RawStat } from '../sys/fsops'
import { DirChain } from './dir-chain'
import { SizeTally } from './disk-usage'
import { isDir, lstatAt } from './resolve'
import { mtimeOf } from './stat'
import { layerXattr } from './xattrs'

/** Overlay's opaque-directory mark, which the unpack writes too (a root runtime's overlays use trusted.*). */
const OPAQUE = 'trusted.overlay.opaque'
/**
 * Overlay's marks of an entry whose content lies elsewhere (a renamed dir's lower path, a file whose
 * data stayed in the lower): made only where the overlay had redirect_dir or metacopy on (the runtime
 * turns both off, native/linux.c), they make the dir not adoptable. user.* are a rootless overlay's.
 */
const ELSEWHERE = new Set(['trusted.overlay.redirect', 'trusted.overlay.metacopy', 'user.overlay.redirect', 'user.overlay.metacopy'])
/** Largest mtime a ustar header holds (11 octal digits of seconds). */
const USTAR_MAX_SECONDS = 8 ** 11 - 1

/** The upper dir holds something its layer tar would say otherwise. */
class NotAdoptable extends Error {}

/**
 * Brings the upper dir `dir` (of a container that has exited, on a root
 * runtime) to the form of its unpacked layer, every mtime later than
 * `clampTo` set to it; returns the layer's size as ../files/disk-usage counts
 * it, or undefined when it cannot be made so (see the module comment: the
 * walk stopped there, its mtimes partly clamped, which the tar path's
 * {@link clampMtimes} finishes).
 */
export function upperAsUnpackedLayer(dir: string, clampTo?: Date): number | undefined {
  const clamp = clampTo && Math.trunc(clampTo.getTime() / 1000)
  const size = new SizeTally()
  try {
    walk(dir, (dirfd, name, st) => {
      size.add(st) // what is sized here is not changed below: only mtimes and attributes are
      const sec = tarSeconds(st)
      if (sec < 0 || sec > USTAR_MAX_SECONDS) throw new NotAdoptable()
      if ((st.mode & S_IFMT) === S_IFSOCK || nameStr(name).startsWith('.wh.')) throw new NotAdoptable()
      const to = clamp === undefined ? sec : Math.min(sec, clamp)
      refusedIsNotAdoptable(() => {
        stripAttributesTheTarDrops(`/proc/self/fd/${dirfd}/${name === '' ? '.' : nameStr(name)}`, isDir(st))
        if (to !== st.mtimeSec || st.mtimeNsec !== 0) setMeta(dirfd, name, { mtime: { sec: to, nsec: 0 } })
      })
    })
    return size.total
  } catch (err) {
    if (err instanceof NotAdoptable) return undefined
    throw err
  }
}

/** Errnos of a change the file refuses (an immutable file; SELinux refuses removing security.selinux, EACCES). */
const REFUSED = new Set(['EPERM', 'EACCES', 'ENOTSUP', 'EOPNOTSUPP'])

/**
 * Runs `change` on an entry; a change the file refuses makes the dir not adoptable: the tar path only
 * reads it, where a thrown error failed the step.
 */
function refusedIsNotAdoptable(change: () => void): void {
  try {
    change()
  } catch (err) {
    if (err instanceof SyscallError && REFUSED.has(err.errno)) throw new NotAdoptable()
    throw err
  }
}

/** Sets every mtime in the tree `dir` later than `to` to `to`, links not followed, so a layer's bytes do not depend on when it ran. */
export function clampMtimes(dir: string, to: Date): void {
  walk(dir, (dirfd, name, st) => {
    if (mtimeOf(st).getTime() > to.getTime()) setMeta(dirfd, name, { mtime: to })
  })
}

/** The mtime's seconds as the layer tar's header has them (./tar-writer: truncated toward zero). */
function tarSeconds(st: RawStat): number {
  return Math.trunc(mtimeOf(st).getTime() / 1000)
}

/** Removes the attributes of `file` (itself, not a link's target) that no layer carries; a directory's opaque mark stays when it is overlay's "y". */
function stripAttributesTheTarDrops(file: string, dir: boolean): void {
  for (const name of llistxattr(file)) {
    if (ELSEWHERE.has(name)) throw new NotAdoptable()
    if (layerXattr(name)) continue
    if (name === OPAQUE && dir) {
      if (lgetxattr(file, name)?.toString() === 'y') continue
      throw new NotAdoptable()
    }
    lremovexattr(file, name)
  }
}

/** Calls `visit` for every entry below `dir`, a directory after its children (their changes touch its ctime, not its mtime), `dir` itself last (name ""). */
function walk(dir: string, visit: (dirfd: number, name: Name, st: RawStat) => void): void {
  const base = openat2(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY, 0, 0)
  const chain = new DirChain(base, O_RDONLY)
  try {
    /** Per level (the base first): its entries still to visit, and the directory's own name and stat. */
    const open: { rest: DirEntry[]; name: Name; st?: RawStat }[] = [{ rest: listdir(base), name: '' }]
    while (open.length > 0) {
      const level = open[open.length - 1]
      const e = level.rest.pop()
      if (e) {
        const st = lstatAt(chain.top(), e.name)
        if (!st) continue
        if (!isDir(st)) {
          visit(chain.top(), e.name, st)
          continue
        }
        chain.push(e.name)
        open.push({ rest: listdir(chain.top()), name: e.name, st })
        continue
      }
      open.pop()
      if (!level.st) break
      chain.pop()
      visit(chain.top(), level.name, level.st)
    }
    const st = lstatAt(base, '')
    if (st) visit(base, '', st)
  } finally {
    chain.close()
    close(base)
  }
}
