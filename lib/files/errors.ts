/**
 * Errors of copying and archives. Each is a {@link MiniContainerError} with a
 * stable `code`; `reason` tells apart cases that share a code.
 *
 * | case                                         | code       | reason              |
 * |----------------------------------------------|------------|---------------------|
 * | source path does not exist                   | ENOTFOUND  | source-missing      |
 * | source ends in `/` or `/.` but is no dir     | ENOTDIR    | source-not-dir      |
 * | destination's parent dir missing / not a dir | ENOTDIR    | dest-parent-missing |
 * | dest ends in `/`, does not exist (file src)  | ENOTDIR    | dest-dir-missing    |
 * | dest ends in `/` but is a file               | ENOTDIR    | dest-not-dir        |
 * | directory source onto an existing file       | EISDIR     | dir-onto-file       |
 * | dir/non-dir replacement refused (putArchive) | EEXIST     | dir-non-dir         |
 * | destination on a read-only mount or root     | EROFS      | read-only           |
 * | archive entry or device node refused         | EUNSAFE    | unsafe-entry        |
 * | a mount point replaced by another type       | EINUSE     | mount-point         |
 *
 * @module
 */
import { MiniContainerError, type ErrorCode } from '../errors'

/**
 * Which case of a copy or archive error it is, finer than its `code` (see the table above);
 * 'path-missing' is the path of `statPath`, `getArchive` or `putArchive` not existing.
 */
export type FilesErrorReason =
  | 'source-missing'
  | 'source-not-dir'
  | 'dest-parent-missing'
  | 'dest-dir-missing'
  | 'dest-not-dir'
  | 'dir-onto-file'
  | 'dir-non-dir'
  | 'read-only'
  | 'unsafe-entry'
  | 'mount-point'
  | 'path-missing'

/** Base of the errors below. `path` is the path as the caller gave it (prefixed "container:" for container paths). */
export class FilesError extends MiniContainerError {
  constructor(
    code: ErrorCode,
    /** Which case it is, finer than `code`, e.g. 'dest-parent-missing'. */
    readonly reason: FilesErrorReason,
    /** The offending path as the caller gave it; "container:/etc/x" for a path inside a container. */
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options)
  }
}

/** The source of a copy (or the path of statPath/getArchive) does not exist. */
export class PathNotFoundError extends FilesError {
  constructor(p: string, reason: FilesErrorReason = 'source-missing', options?: { cause?: unknown }) {
    super('ENOTFOUND', reason, p, `no such file or directory: ${p} (check the path; container paths are relative to the container's /)`, options)
  }
}

/** A path that must be a directory is not one, or the destination's parent directory does not exist. */
export class NotADirectoryError extends FilesError {
  constructor(p: string, reason: FilesErrorReason, options?: { cause?: unknown }) {
    super('ENOTDIR', reason, p, notDirMessage(p, reason), options)
  }
}

function notDirMessage(p: string, reason: FilesErrorReason): string {
  switch (reason) {
    case 'source-not-dir':
      return `source ${p} is not a directory (drop the trailing "/" or "/." to copy the file)`
    case 'dest-parent-missing':
      return `the parent directory of ${p} does not exist or is not a directory; parents are never created: create it first`
    case 'dest-dir-missing':
      return `destination directory ${p} does not exist (a destination ending in "/" must be an existing directory; drop the "/" to create a file)`
    default:
      return `destination ${p} is not a directory (drop the trailing "/" to replace the file)`
  }
}

/** A directory cannot be copied onto an existing file. */
export class DirectoryOntoFileError extends FilesError {
  constructor(src: string, dest: string) {
    super('EISDIR', 'dir-onto-file', dest, `cannot copy directory ${src} onto ${dest}, which is a file: remove the file or choose a directory destination`)
  }
}

/** An archive would replace a directory with a non-directory or the reverse while that is refused. */
export class DirNonDirError extends FilesError {
  constructor(p: string) {
    super('EEXIST', 'dir-non-dir', p, `${p} exists with another type (directory vs. non-directory) and noOverwriteDirNonDir is set: remove it first or unset the option`)
  }
}

/** The destination is on a read-only mount or a read-only root filesystem. */
export class ReadOnlyError extends FilesError {
  constructor(p: string, options?: { cause?: unknown }) {
    super('EROFS', 'read-only', p, `cannot write ${p}: it is on a read-only filesystem (a :ro mount or a read-only root); copy to a writable path`, options)
  }
}

/** An archive entry or a copied object is refused for safety (escape, absolute path, device node). */
export class UnsafeEntryError extends FilesError {
  constructor(p: string, why: string) {
    super('EUNSAFE', 'unsafe-entry', p, `refused ${p}: ${why}`)
  }
}

/**
 * A copy or archive entry would replace a mount point of the container (a bind-mounted file, a
 * volume) with an entry of another kind (a symlink, a directory, a file over a mounted directory).
 * Docker refuses it too ("unlinkat ...: device or resource busy"); done from outside the container's
 * mount namespace it would succeed and land under the mount, unseen by the container.
 */
export class MountPointError extends FilesError {
  constructor(p: string, what: string) {
    super('EINUSE', 'mount-point', p, `cannot replace ${p} with ${what}: it is a mount point in the container (a bind mount or a volume), which only a regular file copied onto a bind-mounted file may rewrite (in place); change the mount instead, as Docker also refuses this (device or resource busy)`)
  }
}
