/**
 * How a copy out of a container (copyFrom, getArchive) opens the regular
 * files it reads. By default the call itself; a rootless runtime gives one
 * that, when refused (a file only another id inside the container reads, a
 * subordinate id on the host), has the keeper of the container's user
 * namespace open it on the same directory fd and reads the fd it gets back:
 * the directory stays resolved here, confined below the container's root.
 *
 * @module
 */
import { O_RDONLY, openRegular, type Name, type RawStat } from '../sys/fsops'

/** The open a copy out makes of each regular file it reads (a directory fd, a single name). */
export interface SourceReads {
  /** The regular file `name` of `dirfd` opened for reading, with its stat; SyscallError EINVAL for anything else. */
  openRegular(dirfd: number, name: Name): { fd: number; stat: RawStat }
}

/** The call itself, as the caller. */
export const directReads: SourceReads = {
  openRegular: (dirfd, name) => openRegular(dirfd, name, O_RDONLY),
}
