/**
 * Whether an entry of a container directory is a mount point (a
 * bind-mounted file), seen from the directory's fd. A rename over a mount
 * point is EBUSY only in the mount namespace that holds the mount: from the
 * host's, through /proc/<pid>/root, it succeeds and the new file lands under
 * the mount, hidden from the container. The entry's mount id (its fd's
 * /proc/self/fdinfo) against its directory's tells, whichever namespace holds
 * the mount.
 *
 * @module
 */
import * as fs from 'node:fs'
import { close, type Name } from '../sys/fsops'
import { directReads, type SourceReads } from './source-reads'

/** The id of the mount an open fd is on (mnt_id in /proc/self/fdinfo). */
function mountIdOf(fd: number): string | undefined {
  return /^mnt_id:\s*(\d+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1]
}

/** Whether `name` in the open directory `dirfd` is on another mount than the directory (opened without following it, through `reads` where the caller may not). */
export function isMountPoint(dirfd: number, name: Name, reads: SourceReads = directReads): boolean {
  const fd = reads.openPath(dirfd, name)
  try {
    return mountIdOf(fd) !== mountIdOf(dirfd)
  } finally {
    close(fd)
  }
}
