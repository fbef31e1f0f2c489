/**
 * Inode flags (`chattr`'s) through FS_IOC_GETFLAGS / FS_IOC_SETFLAGS.
 *
 * @module
 */
import * as fs from 'node:fs'
import koffi from './koffi'
import { debug } from '../util/debug'
import { errnoName } from './libc'

const libc = koffi.load('libc.so.6')
const ioctl = libc.func('int ioctl(int fd, unsigned long request, _Inout_ int *flags)')

/** _IOR('f', 1, long) and _IOW('f', 2, long): the kernel reads and writes an int whatever the size says. */
const FS_IOC_GETFLAGS = 0x80086601
const FS_IOC_SETFLAGS = 0x40086602
/** `chattr +T`: ext4's Orlov allocator spreads this directory's subdirectories over the block groups. */
const FS_TOPDIR_FL = 0x00020000

/**
 * Marks `dir` as the top of directory hierarchies (`chattr +T`), so that
 * ext4 places each new subdirectory, and the files made in it, in a block
 * group of its own rather than in `dir`'s. Only a hint to the allocator:
 * a filesystem without the flag, or a directory the caller may not mark,
 * is left as it is.
 */
export function markTopDirectory(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY)
  try {
    const flags = [0]
    if (ioctl(fd, FS_IOC_GETFLAGS, flags) < 0 || (flags[0] & FS_TOPDIR_FL) !== 0) return
    flags[0] |= FS_TOPDIR_FL
    if (ioctl(fd, FS_IOC_SETFLAGS, flags) < 0) debug(`chattr +T ${dir}: ${errnoName(koffi.errno())}`)
  } finally {
    fs.closeSync(fd)
  }
}
