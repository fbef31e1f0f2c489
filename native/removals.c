/*
 * Deletions Node makes off the event loop, each in one threadpool call (one callback on the
 * event loop, where a walk in JavaScript costs one per entry): a removed container's directory,
 * and a cgroup's directories (one per hierarchy on v1). Both return -errno on failure (errno is
 * per thread, and koffi's async calls run on worker threads).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "tree-remove.h"

#define NEG_ERRNO (-errno)

/* Removes `base` in the directory `parent` and everything below it, never following a symlink: 0, or -errno. */
int mc_remove_tree(const char *parent, const char *base) {
  int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? 0 : NEG_ERRNO;
  int r = mc_tree_remove_at(fd, base) < 0 ? NEG_ERRNO : 0;
  close(fd);
  return r;
}

/*
 * rmdir of each of the NULL-terminated `dirs`, every one tried: 1 once all are gone (ENOENT
 * counts as gone), 0 when some are still busy (EBUSY, ENOTEMPTY: a cgroup's last task not yet
 * gone), else the -errno of the first other failure.
 */
int mc_rmdir_each(const char *const *dirs) {
  int all = 1, failed = 0;
  for (; *dirs; dirs++) {
    if (rmdir(*dirs) == 0 || errno == ENOENT) continue;
    if (errno == EBUSY || errno == ENOTEMPTY) all = 0;
    else if (!failed) failed = NEG_ERRNO;
  }
  return failed ? failed : all;
}
