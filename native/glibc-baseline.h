/*
 * The prebuilt libmcnative.so links against the glibc it runs on, so every
 * symbol version it needs must exist on the oldest system we support. glibc
 * 2.33 turned fstat, fstatat and mknodat into new symbols (GLIBC_2.33), and
 * copy_file_range needs 2.27; these wrappers make the same system calls
 * directly, which keeps the baseline at glibc 2.17 (arm64's first release).
 * On x86_64 and arm64 the kernel's struct stat is glibc's, and a dev_t from
 * makedev() fits the kernel's 32 bits.
 */
#ifndef MC_GLIBC_BASELINE_H
#define MC_GLIBC_BASELINE_H
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline int sys_fstatat(int dirfd, const char *name, struct stat *st, int flags) {
  return (int)syscall(SYS_newfstatat, dirfd, name, st, flags);
}

static inline int sys_fstat(int fd, struct stat *st) { return (int)syscall(SYS_fstat, fd, st); }

static inline int sys_mknodat(int dirfd, const char *name, mode_t mode, dev_t dev) {
  return (int)syscall(SYS_mknodat, dirfd, name, mode, (unsigned)dev);
}

static inline ssize_t sys_copy_file_range(int in, int out, size_t len) {
  return syscall(SYS_copy_file_range, in, NULL, out, NULL, len, 0);
}

#endif
