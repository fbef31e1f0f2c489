/**
 * Files across the container wall: `docker cp` both ways, tar archives of
 * container paths, and stat. Every function takes the container's root
 * directory as seen from the host (`/proc/<pid>/root` of a running container,
 * or a mounted rootfs of a stopped one) and resolves container paths inside it
 * with openat2(RESOLVE_IN_ROOT).
 *
 * @module
 */
export { copyTo, copyFrom, type CopyOptions } from './copy'
export { statPath, type PathStat } from './stat'
export { getArchive, putArchive, type PutArchiveOptions } from '../archive/tar'
export {
  FilesError,
  PathNotFoundError,
  NotADirectoryError,
  DirectoryOntoFileError,
  DirNonDirError,
  ReadOnlyError,
  UnsafeEntryError,
  type FilesErrorReason,
} from './errors'
export { layerFromUpper, applyLayer, type ApplyLayerOptions } from './diff'
