/* Path resolution confined to a root, for copying files in and out of containers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

/* How often a resolution spoiled by concurrent renames is retried; each try is microseconds. */
#define OPENAT2_TRIES 64

/*
 * openat2(2); glibc 2.36 has no wrapper. Returns the fd, or -errno.
 * With RESOLVE_IN_ROOT a ".." fails with EAGAIN when a rename or mount
 * anywhere on the system may have raced with the lookup; the man page's
 * remedy is to try again (a busy host does this constantly).
 */
int mc_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
  struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
  long fd;
  int tries = 0;
  do fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
  while (fd < 0 && errno == EAGAIN && ++tries < OPENAT2_TRIES);
  return fd < 0 ? -errno : (int)fd;
}
