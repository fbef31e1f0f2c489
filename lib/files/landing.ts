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
import { AT_REMOVEDIR, mkdirat, renameat2, unlinkat, type Name } from '../sys/fsops'
import { removeTreeQuietly } from './tree'

/** The calls a copy makes on the directories it lands in (fds of directories, single names). */
export interface LandingWrites {
  /** mkdirat(2). */
  mkdir(dirfd: number, name: Name, mode: number): void
  /** renameat2(2). */
  rename(fromDir: number, from: Name, toDir: number, to: Name, flags: number): void
  /** unlinkat(2) of an empty directory. */
  rmdir(dirfd: number, name: Name): void
}

/** The calls themselves, as the caller. */
export const directWrites: LandingWrites = {
  mkdir: mkdirat,
  rename: renameat2,
  rmdir: (dirfd, name) => unlinkat(dirfd, name, AT_REMOVEDIR),
}

/**
 * Removes a staging directory and what is left in it, ignoring errors (cleanup paths): its contents as the caller, itself through
 * `writes` (also when the caller may not even look it up: a landing directory only another id may search, whose stage the keeper made).
 */
export function removeStageQuietly(landing: number, stage: Name, writes: LandingWrites): void {
  removeTreeQuietly(landing, stage)
  if (writes === directWrites) return
  try {
    writes.rmdir(landing, stage) // ENOENT, as the caller, once it is gone
  } catch {}
}
