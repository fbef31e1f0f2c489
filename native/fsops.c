/*
 * fd-relative file operations for copying files in and out of containers.
 *
 * Every function works relative to directory fds the caller resolved with
 * openat2(RESOLVE_IN_ROOT), takes a single path component (never a path),
 * never follows a symlink in that component, and returns -errno on failure
 * (errno is per thread and koffi's async calls run on worker threads).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "glibc-baseline.h"
#include "meta-copy.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* Flags of mc_copy_file / mc_copy_symlink / mc_copy_special / mc_copy_meta. */
#define MC_OWNER 1          /* copy uid/gid (EPERM/EINVAL ignored: unprivileged or unmapped ids) */
#define MC_LINKCHECK 2      /* mc_copy_file: return 1 without copying when the source has st_nlink > 1 */
#define MC_ALLOW_DEV 4      /* mc_copy_special: device nodes allowed */
#define MC_SYNC_LIMIT 8     /* mc_copy_file: return 2 with the fds open when the file is larger than out[0] */
#define MC_XATTRS 16        /* mc_copy_file / mc_finish_file / mc_copy_meta: a layer's user.* and trusted.* attributes too */

#define NEG_ERRNO (errno ? -errno : -EIO)

/* out[]: mode uid gid size mtime_s mtime_ns dev ino nlink rdev atime_s atime_ns blocks */
static void fill_stat(const struct stat *st, uint64_t *out) {
  if (!out) return;
  out[0] = st->st_mode;
  out[1] = st->st_uid;
  out[2] = st->st_gid;
  out[3] = (uint64_t)st->st_size;
  out[4] = (uint64_t)st->st_mtim.tv_sec;
  out[5] = (uint64_t)st->st_mtim.tv_nsec;
  out[6] = st->st_dev;
  out[7] = st->st_ino;
  out[8] = st->st_nlink;
  out[9] = st->st_rdev;
  out[10] = (uint64_t)st->st_atim.tv_sec;
  out[11] = (uint64_t)st->st_atim.tv_nsec;
  out[12] = (uint64_t)st->st_blocks;
}

int mc_openat(int dirfd, const char *name, int flags, int mode) {
  int fd = openat(dirfd, name, flags | O_CLOEXEC, mode);
  return fd < 0 ? NEG_ERRNO : fd;
}

int mc_close(int fd) { return close(fd) < 0 ? NEG_ERRNO : 0; }

int mc_mkdirat(int dirfd, const char *name, int mode) { return mkdirat(dirfd, name, mode) < 0 ? NEG_ERRNO : 0; }

int mc_unlinkat(int dirfd, const char *name, int flags) { return unlinkat(dirfd, name, flags) < 0 ? NEG_ERRNO : 0; }

int mc_renameat2(int olddirfd, const char *oldname, int newdirfd, const char *newname, unsigned flags) {
  long r = syscall(SYS_renameat2, olddirfd, oldname, newdirfd, newname, flags);
  return r < 0 ? NEG_ERRNO : 0;
}

int mc_linkat(int olddirfd, const char *oldname, int newdirfd, const char *newname, int flags) {
  return linkat(olddirfd, oldname, newdirfd, newname, flags) < 0 ? NEG_ERRNO : 0;
}

int mc_symlinkat(const char *target, int dirfd, const char *name) { return symlinkat(target, dirfd, name) < 0 ? NEG_ERRNO : 0; }

/* Returns the length written to buf (not NUL-terminated), or -errno; -ENAMETOOLONG when buf is too small. */
int mc_readlinkat(int dirfd, const char *name, char *buf, int size) {
  ssize_t n = readlinkat(dirfd, name, buf, (size_t)size);
  if (n < 0) return NEG_ERRNO;
  if (n >= size) return -ENAMETOOLONG;
  return (int)n;
}

/* fstatat(2); an empty name with AT_EMPTY_PATH stats dirfd itself. */
int mc_fstatat(int dirfd, const char *name, int flags, uint64_t *out) {
  struct stat st;
  if (sys_fstatat(dirfd, name, &st, flags) < 0) return NEG_ERRNO;
  fill_stat(&st, out);
  return 0;
}

int mc_mknodat(int dirfd, const char *name, unsigned mode, unsigned major_, unsigned minor_) {
  return sys_mknodat(dirfd, name, mode, makedev(major_, minor_)) < 0 ? NEG_ERRNO : 0;
}

/*
 * Gives a just-created symlink or special file `dname` its owner (with MC_OWNER), permission bits
 * (with_mode; a symlink has none) and times from `st`. On failure the half-made entry is removed and
 * -errno returned, so a copy never leaves an object with the wrong owner or mode behind.
 */
static int finish_new_entry(int ddir, const char *dname, const struct stat *st, int flags, int with_mode) {
  struct timespec ts[2] = {st->st_atim, st->st_mtim};
  if (((flags & MC_OWNER) && !mc_chown_ok(fchownat(ddir, dname, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW))) ||
      (with_mode && mc_chmod_nofollow(ddir, dname, st->st_mode & 07777) < 0) || utimensat(ddir, dname, ts, AT_SYMLINK_NOFOLLOW) < 0) {
    int e = errno;
    unlinkat(ddir, dname, 0);
    return -e;
  }
  return 0;
}

/*
 * Sets owner, permission bits and times of `name` in dirfd (not following a
 * symlink), or of dirfd itself when name is "". what: 1 owner, 2 mode, 4 times.
 * The owner goes first: chown clears the set-id bits.
 */
int mc_set_meta(int dirfd, const char *name, unsigned what, unsigned uid, unsigned gid, unsigned mode, int64_t sec, int64_t nsec) {
  int self = name[0] == 0;
  struct stat st;
  if (!self && sys_fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return NEG_ERRNO;
  int islink = !self && S_ISLNK(st.st_mode);
  if (what & 1) {
    int r = self ? fchown(dirfd, uid, gid) : fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW);
    if (!mc_chown_ok(r)) return NEG_ERRNO;
  }
  if ((what & 2) && !islink) {
    int r = self ? fchmod(dirfd, mode & 07777) : mc_chmod_nofollow(dirfd, name, mode & 07777);
    if (r < 0) return NEG_ERRNO;
  }
  if (what & 4) {
    struct timespec ts[2] = {{.tv_sec = sec, .tv_nsec = nsec}, {.tv_sec = sec, .tv_nsec = nsec}};
    int r = self ? futimens(dirfd, ts) : utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW);
    if (r < 0) return NEG_ERRNO;
  }
  return 0;
}

/*
 * Creates `name` in `dirfd` (which must not exist: O_EXCL, never through a
 * symlink) with `len` bytes of `data`, then its owner, mode and mtime as
 * mc_set_meta with name "" does, in one call: a layer's small files are
 * written this way on the threadpool, the inode allocation (which can cost
 * hundreds of microseconds on a filesystem without a journal that just
 * deleted many files) off the main thread. 0 or -errno; a failure after the
 * create leaves the file (the caller's scratch directory is removed whole).
 */
int mc_write_file(int dirfd, const char *name, const uint8_t *data, int64_t len, unsigned what, unsigned uid, unsigned gid, unsigned mode, int64_t sec, int64_t nsec) {
  int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return NEG_ERRNO;
  int r = 0;
  for (int64_t off = 0; off < len && r == 0;) {
    ssize_t n = write(fd, data + off, (size_t)(len - off));
    if (n > 0) off += n;
    else if (n == 0) r = -EIO;
    else if (errno != EINTR) r = NEG_ERRNO;
  }
  if (r == 0) r = mc_set_meta(fd, "", what, uid, gid, mode, sec, nsec);
  close(fd);
  return r;
}

/* Copies owner (with MC_OWNER; a refused chown is skipped), a layer's attributes (with MC_XATTRS), mode, file capabilities and times of srcfd onto dstfd (both opened files or dirs). */
int mc_copy_meta(int srcfd, int dstfd, int flags) {
  int meta = MC_META_CAPS | ((flags & MC_OWNER) ? MC_META_OWNER | MC_META_OWNER_IF_LET : 0) | ((flags & MC_XATTRS) ? MC_META_XATTRS : 0);
  return mc_meta_copy(srcfd, dstfd, meta) ? NEG_ERRNO : 0;
}

/*
 * copy_dense: copies up to `max` bytes (max < 0: to EOF) from in to out at
 * their current offsets: copy_file_range, then sendfile, then read/write.
 * Returns the number of bytes copied (less than max only at EOF) or -errno.
 */
static int64_t copy_dense(int in, int out, int64_t max);

/*
 * Like copy_dense, but holes of a sparse source are skipped (SEEK_DATA /
 * SEEK_HOLE) rather than written as zeros; the caller extends the
 * destination to the source's size at the end (ftruncate). Returns the
 * number of source bytes advanced over (copied or skipped), 0 at EOF.
 */
static int64_t copy_sparse(int in, int out, int64_t max) {
  int64_t done = 0;
  while (max < 0 || done < max) {
    off_t off = lseek(in, 0, SEEK_CUR);
    if (off < 0) return NEG_ERRNO;
    off_t data = lseek(in, off, SEEK_DATA);
    if (data < 0) {
      if (errno != ENXIO) return NEG_ERRNO;
      /* No data after off: a trailing hole up to the size, or EOF. */
      struct stat st;
      if (sys_fstat(in, &st) < 0) return NEG_ERRNO;
      if (off >= st.st_size) break;
      data = st.st_size;
    }
    if (max >= 0 && data - off > max - done) data = off + (max - done);
    if (data > off) {
      if (lseek(in, data, SEEK_SET) < 0 || lseek(out, data - off, SEEK_CUR) < 0) return NEG_ERRNO;
      done += data - off;
      continue;
    }
    off_t hole = lseek(in, data, SEEK_HOLE);
    if (hole < 0) return NEG_ERRNO;
    if (lseek(in, data, SEEK_SET) < 0) return NEG_ERRNO;
    int64_t want = hole - data;
    if (max >= 0 && want > max - done) want = max - done;
    int64_t n = copy_dense(in, out, want);
    if (n < 0) return n;
    done += n;
    if (n < want) break;
  }
  return done;
}

/* Copies up to max bytes; `sparse` skips holes (see copy_sparse). */
int64_t mc_copy_data(int in, int out, int64_t max, int sparse) { return sparse ? copy_sparse(in, out, max) : copy_dense(in, out, max); }

static int64_t copy_dense(int in, int out, int64_t max) {
  static const size_t chunk = 1 << 30;
  int64_t done = 0;
  int mode = 0; /* 0 copy_file_range, 1 sendfile, 2 read/write */
  char *buf = NULL;
  while (max < 0 || done < max) {
    size_t want = chunk;
    if (max >= 0 && (uint64_t)(max - done) < want) want = (size_t)(max - done);
    ssize_t n;
    if (mode == 0) {
      n = sys_copy_file_range(in, out, want);
      if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP || errno == EBADF || errno == EPERM)) {
        mode = 1;
        continue;
      }
    } else if (mode == 1) {
      n = sendfile(out, in, NULL, want);
      if (n < 0 && (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
        mode = 2;
        continue;
      }
    } else {
      if (!buf && !(buf = malloc(1 << 20))) return -ENOMEM;
      if (want > (1 << 20)) want = 1 << 20;
      n = read(in, buf, want);
      if (n > 0) {
        ssize_t off = 0;
        while (off < n) {
          ssize_t w = write(out, buf + off, (size_t)(n - off));
          if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            free(buf);
            return -e;
          }
          off += w;
        }
      }
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      free(buf);
      return -e;
    }
    if (n == 0) break;
    done += n;
  }
  free(buf);
  return done;
}

/*
 * Opens the regular file `name` of dirfd (or dirfd itself, an O_PATH fd, when
 * name is "") with `flags`, never following a symlink and never opening
 * anything else: the object is first opened O_PATH (no device open() side
 * effects), checked to be a regular file, then reopened through its own fd.
 * Returns the fd, -EINVAL when it is not a regular file, or -errno.
 */
static int open_regular(int dirfd, const char *name, int flags, struct stat *st) {
  int pfd = name[0] ? openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC) : dirfd;
  if (pfd < 0) return NEG_ERRNO;
  int r;
  if (sys_fstat(pfd, st) < 0)
    r = NEG_ERRNO;
  else if (!S_ISREG(st->st_mode))
    r = -EINVAL;
  else {
    char self[64];
    snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
    r = open(self, (flags & ~(O_CREAT | O_EXCL)) | O_CLOEXEC | O_NOCTTY);
    if (r < 0) r = NEG_ERRNO;
  }
  if (pfd != dirfd) close(pfd);
  return r;
}

int mc_open_regular(int dirfd, const char *name, int flags, uint64_t *out) {
  struct stat st;
  int fd = open_regular(dirfd, name, flags, &st);
  if (fd >= 0) fill_stat(&st, out);
  return fd;
}

/*
 * Copies the regular file `sname` in sdir to a new file `dname` in ddir
 * (O_EXCL: never through an existing name), with mode, times and (MC_OWNER)
 * owner. out[] gets the source's stat (see fill_stat).
 * Returns 0 when done; 1 (MC_LINKCHECK, nothing created) when the source has
 * other hard links; 2 (MC_SYNC_LIMIT) when the source is larger than out[0]:
 * then fds[0]/fds[1] hold the open source/destination for the caller to copy
 * with mc_copy_data and finish with mc_finish_file. -EINVAL: not a regular file.
 */
int mc_copy_file(int sdir, const char *sname, int ddir, const char *dname, int flags, uint64_t *out, int *fds) {
  uint64_t limit = out[0];
  struct stat st;
  if ((flags & MC_LINKCHECK) && sname[0]) {
    if (sys_fstatat(sdir, sname, &st, AT_SYMLINK_NOFOLLOW) < 0) return NEG_ERRNO;
    if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
      fill_stat(&st, out);
      return 1;
    }
  }
  int in = open_regular(sdir, sname, O_RDONLY, &st);
  if (in < 0) return in;
  fill_stat(&st, out);
  int outfd = openat(ddir, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (outfd < 0) goto fail_in;
  if ((flags & MC_SYNC_LIMIT) && (uint64_t)st.st_size > limit) {
    fds[0] = in;
    fds[1] = outfd;
    return 2;
  }
  if (st.st_size > 0) {
    int sparse = (int64_t)st.st_blocks * 512 < (int64_t)st.st_size;
    int64_t r = mc_copy_data(in, outfd, -1, sparse);
    if (r >= 0 && sparse && ftruncate(outfd, st.st_size) < 0) r = NEG_ERRNO;
    if (r < 0) {
      errno = (int)-r;
      goto fail_out;
    }
  }
  {
    int r = mc_copy_meta(in, outfd, flags);
    if (r < 0) {
      errno = -r;
      goto fail_out;
    }
  }
  close(in);
  if (close(outfd) < 0) {
    int e = errno;
    unlinkat(ddir, dname, 0);
    return -e;
  }
  return 0;
fail_out: {
  int e = errno;
  close(outfd);
  unlinkat(ddir, dname, 0);
  errno = e;
}
fail_in: {
  int e = errno;
  close(in);
  return e ? -e : -EIO;
}
}

/* Finishes a mc_copy_file that returned 2: metadata, then closes both fds. */
int mc_finish_file(int in, int outfd, int flags) {
  struct stat st;
  int r = 0;
  /* Extends the copy over a trailing hole of a sparse source. */
  if (sys_fstat(in, &st) < 0 || ftruncate(outfd, st.st_size) < 0) r = NEG_ERRNO;
  if (r == 0) r = mc_copy_meta(in, outfd, flags);
  close(in);
  if (close(outfd) < 0 && r == 0) r = NEG_ERRNO;
  return r;
}

/* Copies the symlink `sname` in sdir as a new symlink `dname` in ddir, with owner and times. */
int mc_copy_symlink(int sdir, const char *sname, int ddir, const char *dname, int flags, uint64_t *out) {
  struct stat st;
  /* sname "": sdir is the symlink's own O_PATH fd (readlinkat reads it with an empty name). */
  if (sys_fstatat(sdir, sname, &st, sname[0] ? AT_SYMLINK_NOFOLLOW : AT_EMPTY_PATH) < 0) return NEG_ERRNO;
  fill_stat(&st, out);
  if (!S_ISLNK(st.st_mode)) return -EINVAL;
  char target[4097];
  ssize_t n = readlinkat(sdir, sname, target, sizeof(target) - 1);
  if (n < 0) return NEG_ERRNO;
  target[n] = 0;
  if (symlinkat(target, ddir, dname) < 0) return NEG_ERRNO;
  return finish_new_entry(ddir, dname, &st, flags, 0);
}

/* Copies a FIFO (or, with MC_ALLOW_DEV, a device node) `sname` as `dname`. Sockets: -EINVAL. Devices without the flag: -EPERM. */
int mc_copy_special(int sdir, const char *sname, int ddir, const char *dname, int flags, uint64_t *out) {
  struct stat st;
  if (sys_fstatat(sdir, sname, &st, sname[0] ? AT_SYMLINK_NOFOLLOW : AT_EMPTY_PATH) < 0) return NEG_ERRNO;
  fill_stat(&st, out);
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    if (!(flags & MC_ALLOW_DEV)) return -EPERM;
  } else if (!S_ISFIFO(st.st_mode))
    return -EINVAL;
  if (sys_mknodat(ddir, dname, (st.st_mode & S_IFMT) | 0600, st.st_rdev) < 0) return NEG_ERRNO;
  return finish_new_entry(ddir, dname, &st, flags, 1);
}

/*
 * Lists a directory fd (its offset is rewound first) into buf as records of
 * [u8 d_type][name][NUL]. Returns bytes used, or -errno. When buf is too
 * small, returns -ENOBUFS and the caller retries with a larger one.
 */
struct linux_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

int mc_listdir(int dirfd, char *buf, int size) {
  if (lseek(dirfd, 0, SEEK_SET) < 0) return NEG_ERRNO;
  char tmp[32768];
  int used = 0;
  for (;;) {
    long n = syscall(SYS_getdents64, dirfd, tmp, sizeof(tmp));
    if (n < 0) return NEG_ERRNO;
    if (n == 0) break;
    for (long off = 0; off < n;) {
      struct linux_dirent64 *d = (struct linux_dirent64 *)(tmp + off);
      off += d->d_reclen;
      if (d->d_name[0] == '.' && (d->d_name[1] == 0 || (d->d_name[1] == '.' && d->d_name[2] == 0))) continue;
      size_t len = strlen(d->d_name);
      if (used + (int)len + 2 > size) return -ENOBUFS;
      buf[used++] = (char)d->d_type;
      memcpy(buf + used, d->d_name, len + 1);
      used += (int)len + 1;
    }
  }
  return used;
}


/* fgetxattr(2) on an opened fd: the value's length, or -errno (-ENODATA: not set). */
int mc_fgetxattr(int fd, const char *name, char *buf, int size) {
  ssize_t n = fgetxattr(fd, name, buf, (size_t)size);
  return n < 0 ? NEG_ERRNO : (int)n;
}

/* fsetxattr(2) on an opened fd. */
int mc_fsetxattr(int fd, const char *name, const char *value, int size, int flags) {
  return fsetxattr(fd, name, value, (size_t)size, flags) < 0 ? NEG_ERRNO : 0;
}

/* flistxattr(2) on an opened fd: the NUL-separated names' total length, or -errno. */
int mc_flistxattr(int fd, char *buf, int size) {
  ssize_t n = flistxattr(fd, buf, (size_t)size);
  return n < 0 ? NEG_ERRNO : (int)n;
}
