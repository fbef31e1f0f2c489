/*
 * Keeping the shim's fds out of the container. close_range(CLOSE_RANGE_CLOEXEC)
 * does it in one call from Linux 5.11; before (5.9 and 5.10 have close_range
 * without that flag, older kernels none) it fails, and silently ignoring that
 * would let an fd the shim holds reach the container's program. So the
 * fallback walks the open fds in /proc/self/fd, and without a /proc every
 * number up to the fd limit.
 */
#define _GNU_SOURCE
#include "fds.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static void set_cloexec(int fd) {
  int flags = fcntl(fd, F_GETFD);
  if (flags >= 0 && !(flags & FD_CLOEXEC)) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

/* Returns 0 when /proc/self/fd could be read. The directory's own fd is close-on-exec already. */
static int cloexec_listed(int first) {
  DIR *dir = opendir("/proc/self/fd");
  if (!dir) return -1;
  for (struct dirent *e; (e = readdir(dir));) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd >= first && fd != dirfd(dir)) set_cloexec(fd);
  }
  closedir(dir);
  return 0;
}

void mc_cloexec_from(int first) {
  if (syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  if (cloexec_listed(first) == 0) return;
  struct rlimit lim;
  int last = getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY ? (int)lim.rlim_cur : 1 << 20;
  for (int fd = first; fd < last; fd++) set_cloexec(fd);
}
