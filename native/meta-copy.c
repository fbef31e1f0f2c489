/* See meta-copy.h. Linked into both mc-shim (static) and libmcnative.so (glibc 2.17 baseline: sys_fstat). */
#define _GNU_SOURCE
#include "meta-copy.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/*
 * Whether a layer keeps the attribute `name` beside file capabilities: user.* and trusted.*, not overlay's own marks.
 * The same rule as lib/files/xattrs.ts layerXattr (which also names security.capability, copied here by
 * copy_file_caps): a change to one is a change to both.
 */
static int layer_xattr(const char *name) {
  if (!strncmp(name, "user.overlay.", 13) || !strncmp(name, "trusted.overlay.", 16)) return 0;
  return !strncmp(name, "user.", 5) || !strncmp(name, "trusted.", 8);
}

/* A buffer of at least `want` bytes in *buf (grown, kept for the next call), or NULL. */
static char *grown(char **buf, size_t *cap, size_t want) {
  if (want <= *cap) return *buf;
  char *more = realloc(*buf, want);
  if (!more) return NULL;
  *cap = want;
  return *buf = more;
}

/*
 * The attributes a layer keeps (layer_xattr) from srcfd onto dstfd: a staged entry's, which an archive gave,
 * copied across a mount. Refused ones (EPERM: trusted.* without CAP_SYS_ADMIN; ENOTSUP) are skipped, as
 * writeXattrs does. NULL or the failed call, errno set.
 */
static const char *copy_layer_xattrs(int srcfd, int dstfd) {
  char *names = NULL, *value = NULL;
  size_t names_cap = 0, value_cap = 0;
  const char *failed = NULL;
  ssize_t len;
  /* The list may grow between the size query and the read: asked again on ERANGE. */
  for (;;) {
    len = flistxattr(srcfd, NULL, 0);
    if (len <= 0) break;
    if (!grown(&names, &names_cap, (size_t)len)) {
      failed = "malloc";
      break;
    }
    len = flistxattr(srcfd, names, (size_t)len);
    if (len >= 0 || errno != ERANGE) break;
  }
  if (len < 0 && errno != ENOTSUP) failed = "flistxattr";
  for (char *name = names; !failed && len > 0 && name < names + len; name += strlen(name) + 1) {
    if (!layer_xattr(name)) continue;
    ssize_t n = fgetxattr(srcfd, name, NULL, 0);
    if (n >= 0 && !grown(&value, &value_cap, (size_t)n + 1)) failed = "malloc";
    else if (n >= 0) n = fgetxattr(srcfd, name, value, (size_t)n);
    if (failed) break;
    if (n < 0) {
      if (errno != ENODATA) failed = "fgetxattr";
      continue;
    }
    if (fsetxattr(dstfd, name, value, (size_t)n, 0) < 0 && errno != ENOTSUP && errno != EPERM) failed = "fsetxattr";
  }
  int saved = errno;
  free(names);
  free(value);
  errno = saved;
  return failed;
}

const char *mc_meta_copy(int srcfd, int dstfd, int flags) {
  struct stat st;
  if (sys_fstat(srcfd, &st) < 0) return "fstat";
  if (flags & MC_META_OWNER) {
    int r = fchown(dstfd, st.st_uid, st.st_gid);
    if (r < 0 && !((flags & MC_META_OWNER_IF_LET) && mc_chown_ok(r))) return "fchown";
  }
  if ((flags & MC_META_XATTRS) && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
    const char *failed = copy_layer_xattrs(srcfd, dstfd);
    if (failed) return failed;
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
