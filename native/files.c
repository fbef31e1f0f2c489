/* Path resolution confined to a root, for copying files in and out of containers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

/* openat2(2); glibc 2.36 has no wrapper. Returns the fd, or -errno. */
int mc_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
  struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
  long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
  return fd < 0 ? -errno : (int)fd;
}
