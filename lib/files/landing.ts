/**
 * The writes a copy or an archive extraction makes in the directory it
 * lands in: its staging directory made and removed there, staged entries
 * renamed in (the rest is written inside the staging directory, which the
 * caller owns). By default the calls themselves; a rootless runtime gives
 * ones that, when refused (a directory of another id inside the container,
 * a subordinate id on the host), are made by the keeper of the container's
 * user namespace on the same fds: the directories stay resolved here,
 * confined below the container's root.
 *
 * @module
 */
import { AT_REMOVEDIR, O_TRUNC, O_WRONLY, close, copyMeta, fsetxattr, listdir, mkdirat, openRegular, renameat2, unlinkat, type Name } from '../sys/fsops'
import { openDirThrough, type SourceReads } from './source-reads'
import type { OwnerLedger } from './owner-ledger'
import { removeTree, removeTreeQuietly } from './tree'

/** The calls a copy makes on the directories it lands in (fds of directories, single names). */
export interface LandingWrites {
  /** mkdirat(2). */
  mkdir(dirfd: number, name: Name, mode: number): void
  /** renameat2(2). */
  rename(fromDir: number, from: Name, toDir: number, to: Name, flags: number): void
  /** unlinkat(2) of an empty directory. */
  rmdir(dirfd: number, name: Name): void
  /** A staged directory's owner (with MC_OWNER), mode and times given to the existing one it was merged into (both open fds). */
  copyMeta(srcfd: number, dstfd: number, flags: number): void
  /** Removes `name` in `dirfd` and everything below it (the old directory a copy replaced with a file, in the stage). */
  removeTree(dirfd: number, name: Name): void
  /** fsetxattr(2) of an archive's attribute on an open file or directory (one merged into a directory of another id). */
  setXattr(fd: number, name: string, value: Buffer): void
  /** The regular file `name` of `dirfd` (not followed) opened for writing and truncated: a bind-mounted file a copy rewrites in place; the caller owns the fd. */
  openWrite(dirfd: number, name: Name): number
  /**
   * Gives the entries below the landing directory `landingfd`, once merged there, the owners an archive named, which the
   * caller could not (a rootless runtime's: other ids inside are subordinate ids); undefined where the extraction's own
   * chowns gave them.
   */
  giveOwners?: (landingfd: number, ledger: OwnerLedger) => void
  /** Before the merge (no half-state): EIDRANGE for an owner beyond what {@link LandingWrites.giveOwners} can give, or those squashed to root (idOverflow). */
  fitOwners?: (ledger: OwnerLedger) => void
}

/** The calls themselves, as the caller. */
export const directWrites: LandingWrites = {
  mkdir: mkdirat,
  rename: renameat2,
  rmdir: (dirfd, name) => unlinkat(dirfd, name, AT_REMOVEDIR),
  copyMeta,
  removeTree,
  setXattr: fsetxattr,
  openWrite: (dirfd, name) => openRegular(dirfd, name, O_WRONLY | O_TRUNC).fd,
}

/**
 * The staging directory `stage` of `landing` opened for the copy to write in, and `landing` itself opened for reading (the merge
 * lists it): as the caller, or through `reads` when the landing directory is one only another id may search. The stage is the
 * caller's (made through `writes`, root of the namespace being the caller), so everything below it is written as the caller
 * on its fd; only the lookups and renames in the landing directory itself need the keeper. The caller closes both.
 */
export function openStageAndLanding(landing: number, stage: Name, reads: SourceReads | undefined): { stagefd: number; landingfd: number } {
  const stagefd = openDirThrough(reads, landing, stage)
  try {
    return { stagefd, landingfd: openDirThrough(reads, landing, '') }
  } catch (err) {
    close(stagefd)
    throw err
  }
}

/**
 * Removes a staging directory and what is left in it, ignoring errors (cleanup paths): its contents as the caller (through
 * `stagefd` when open: the caller may not look the stage up in a landing directory only another id may search, whose stage
 * the keeper made), itself through `writes`.
 */
export function removeStageQuietly(landing: number, stage: Name, writes: LandingWrites, stagefd = -1): void {
  if (stagefd >= 0) emptyQuietly(stagefd)
  removeTreeQuietly(landing, stage)
  if (writes === directWrites) return
  try {
    writes.rmdir(landing, stage) // ENOENT, as the caller, once it is gone
  } catch {}
}

/** Removes every entry of the open directory `dirfd`, ignoring errors. */
function emptyQuietly(dirfd: number): void {
  try {
    for (const e of listdir(dirfd)) removeTreeQuietly(dirfd, e.name)
  } catch {}
}
