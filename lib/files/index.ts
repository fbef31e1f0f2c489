/**
 * Files across the container wall: `docker cp` both ways, tar archives of
 * container paths, stat, and overlay upper dir <-> OCI layer. Every function
 * takes the container's root directory as seen from the host
 * (`/proc/<pid>/root` of a running container, or the root lent by
 * Container.withFilesystem for a stopped one) and resolves container paths
 * inside it with openat2(RESOLVE_IN_ROOT).
 *
 * @module
 */
import type { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { getArchive } from './archive-api'
import type { PathStat } from './stat'

export { copyTo, copyFrom, type CopyOptions } from './copy'
export { statPath, type PathStat } from './stat'
export { getArchive, putArchive, type PutArchiveOptions } from './archive-api'
export { layerFromUpper, applyLayer, type ApplyLayerOptions } from './diff'
export {
  FilesError,
  PathNotFoundError,
  NotADirectoryError,
  DirectoryOntoFileError,
  DirNonDirError,
  ReadOnlyError,
  UnsafeEntryError,
  MountPointError,
  type FilesErrorReason,
} from './errors'

/**
 * getArchive through a callback that lends a root only while it runs (such
 * as Container.withFilesystem, whose stopped-container root lives as long as
 * the callback): resolves with the stream as soon as it is ready, and keeps
 * the root lent until the stream has ended or been destroyed.
 */
export function getArchiveWith(
  withRoot: (fn: (root: string) => Promise<void>) => Promise<void>,
  path: string,
): Promise<{ stream: Readable; stat: PathStat }> {
  return new Promise((resolve, reject) => {
    withRoot(async (root) => {
      const r = await getArchive(root, path)
      resolve(r)
      await finished(r.stream).catch(() => {})
    }).catch(reject)
  })
}
