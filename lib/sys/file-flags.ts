/**
 * Inode flags (`chattr`'s) through FS_IOC_GETFLAGS / FS_IOC_SETFLAGS.
 *
 * @module
 */
import * as fs from 'node:fs'
import koffi from './koffi'
import { errnoName, libc } from './libc'

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
 * is left as it is, and the errno name of the refusal returned.
 */
export function markTopDirectory(dir: string): string | undefined {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY)
  try {
    const flags = [0]
    if (ioctl(fd, FS_IOC_GETFLAGS, flags) < 0) return errnoName(koffi.errno())
    if ((flags[0] & FS_TOPDIR_FL) !== 0) return undefined
    flags[0] |= FS_TOPDIR_FL
    return ioctl(fd, FS_IOC_SETFLAGS, flags) < 0 ? errnoName(koffi.errno()) : undefined
  } finally {
    fs.closeSync(fd)
  }
}
