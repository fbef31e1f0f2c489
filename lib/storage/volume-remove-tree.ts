/**
 * Deleting a directory tree that an untrusted container may still be
 * writing to (a volume removed with `force`).
 *
 * A path-based recursive delete (fs.rmSync) can be tricked: between its
 * lstat and its descent, the container swaps a directory for a symlink to
 * a host directory, and the host directory gets emptied. Here every
 * directory is held open by fd, children are opened relative to it with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), and unlink/rmdir go
 * through /proc/self/fd/N/<name>, whose last component is never followed.
 *
 * @module
 */
import * as fs from 'node:fs'
import {
  closeQuietly, openat2, O_CLOEXEC, O_DIRECTORY, O_NOFOLLOW, O_PATH, RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS,
  RESOLVE_NO_SYMLINKS, RESOLVE_NO_XDEV,
} from '../sys/libc'
import { SyscallError } from '../errors'

const AT_FDCWD = -100
const DIR_FLAGS = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
const CONFINED = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV

function code(err: unknown): string | undefined {
  return err instanceof SyscallError ? err.errno : (err as NodeJS.ErrnoException).code
}

function unlinkQuietly(entry: string): void {
  try {
    fs.unlinkSync(entry)
  } catch {
    /* gone, or a directory again: the container is still racing us; the final rmdir reports it */
  }
}

function removeEntry(dirFd: number, name: string): void {
  const entry = `/proc/self/fd/${dirFd}/${name}`
  try {
    fs.unlinkSync(entry)
    return
  } catch (err) {
    if (code(err) === 'ENOENT') return
    if (code(err) !== 'EISDIR') throw err
  }
  let child: number
  try {
    child = openat2(dirFd, name, DIR_FLAGS, 0, CONFINED)
  } catch (err) {
    // Swapped for something else since the unlink: it is no longer a directory of ours to descend.
    if (['ENOENT', 'ENOTDIR', 'ELOOP'].includes(code(err) ?? '')) return unlinkQuietly(entry)
    throw err
  }
  try {
    removeContents(child)
  } finally {
    closeQuietly(child)
  }
  try {
    fs.rmdirSync(entry)
  } catch (err) {
    if (code(err) !== 'ENOENT') throw err
  }
}

function removeContents(dirFd: number): void {
  for (const name of fs.readdirSync(`/proc/self/fd/${dirFd}`)) removeEntry(dirFd, name)
}

/** Removes `dir` and everything below it without ever following a symlink; a missing `dir` is fine. */
export function removeTree(dir: string): void {
  let fd: number
  try {
    fd = openat2(AT_FDCWD, dir, DIR_FLAGS, 0, 0)
  } catch (err) {
    if (code(err) === 'ENOENT') return
    if (code(err) === 'ENOTDIR' || code(err) === 'ELOOP') return fs.unlinkSync(dir)
    throw err
  }
  try {
    removeContents(fd)
  } finally {
    closeQuietly(fd)
  }
  fs.rmdirSync(dir)
}
