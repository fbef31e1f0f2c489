/* See meta-copy.h. Linked into both mc-shim (static) and libmcnative.so (glibc 2.17 baseline: sys_fstat). */
#define _GNU_SOURCE
#include "meta-copy.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "glibc-baseline.h"

int mc_chown_ok(int r) { return r == 0 || errno == EPERM || errno == EINVAL; }

/*
 * security.capability, the one extended attribute `docker cp` carries; a
 * source without one, or a filesystem or privilege that refuses it (ENOTSUP,
 * EPERM), is skipped, as Docker does. NULL or the failed call, errno set.
 */
static const char *copy_file_caps(int srcfd, int dstfd) {
  char caps[64]; /* vfs_ns_cap_data, the largest form, is 24 bytes */
  ssize_t n = fgetxattr(srcfd, "security.capability", caps, sizeof(caps));
  if (n < 0) return errno == ENODATA || errno == ENOTSUP || errno == ERANGE ? NULL : "fgetxattr";
  if (fsetxattr(dstfd, "security.capability", caps, (size_t)n, 0) < 0 && errno != ENOTSUP && errno != EPERM) return "fsetxattr";
  return NULL;
}

const char *mc_meta_copy(int srcfd, int dstfd, int flags) {
  struct stat st;
  if (sys_fstat(srcfd, &st) < 0) return "fstat";
  if (flags & MC_META_OWNER) {
    int r = fchown(dstfd, st.st_uid, st.st_gid);
    if (r < 0 && !((flags & MC_META_OWNER_IF_LET) && mc_chown_ok(r))) return "fchown";
  }
  if (fchmod(dstfd, st.st_mode & 07777) < 0) return "fchmod";
  if ((flags & MC_META_CAPS) && S_ISREG(st.st_mode)) {
    const char *failed = copy_file_caps(srcfd, dstfd);
    if (failed) return failed;
  }
  struct timespec ts[2] = {st.st_atim, st.st_mtim};
  if (futimens(dstfd, ts) < 0) return "futimens";
  return NULL;
}

int mc_chmod_nofollow(int dirfd, const char *name, unsigned mode) {
  int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  int r = sys_fstat(fd, &st);
  if (r == 0 && !S_ISLNK(st.st_mode)) {
    char self[32];
    snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
    r = chmod(self, mode & 07777);
  }
  int saved = errno;
  close(fd);
  errno = saved;
  return r;
}
