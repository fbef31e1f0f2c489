/*
 * A container's cgroup made in one call from Node (lib/sys/cgroup-make.ts): its directory in each
 * hierarchy, then the values written to its files. Step by step in JavaScript, the two dozen
 * system calls of a v1 cgroup (eight mkdirs, the device rules) cost as much again in Node's fs
 * calls as in the kernel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* A failure's code: the failed operation (1-based: the mkdirs, then the writes) and its errno. */
static int failure(int op, int err) {
  return -(op * 4096 + err);
}

/*
 * mkdir of `dir`, replacing an empty one already there (a previous run's leftover): mkdir answers
 * whether it exists, so the usual new cgroup costs one path walk. 0, or -1 with errno (EEXIST
 * for a leftover still in use, which the caller may keep).
 */
static int make_fresh(const char *dir) {
  if (mkdir(dir, 0777) == 0) return 0;
  if (errno != EEXIST) return -1;
  if (rmdir(dir) < 0) {
    if (errno == EBUSY || errno == ENOTEMPTY) errno = EEXIST;
    return -1;
  }
  return mkdir(dir, 0777);
}

/*
 * Each of the NULL-terminated `dirs` made fresh (make_fresh), then each (file, value) pair of the
 * NULL-terminated `writes` written to its file, one write(2) each; consecutive pairs of one file
 * share one open (the kernel takes each write as one value, as a device rule). 0, or a failure's
 * code; on failure the directories made are removed again.
 */
int mc_cgroup_make(const char *const *dirs, const char *const *writes) {
  int made = 0, fd = -1, r = 0;
  const char *file = NULL;
  for (; dirs[made]; made++)
    if (make_fresh(dirs[made]) < 0) {
      r = failure(made + 1, errno);
      goto undo;
    }
  for (int i = 0; writes[i] && writes[i + 1]; i += 2) {
    if (!file || strcmp(file, writes[i]) != 0) {
      if (fd >= 0) close(fd);
      file = writes[i];
      fd = open(file, O_WRONLY | O_CLOEXEC);
      if (fd < 0) {
        r = failure(made + 1 + i / 2, errno);
        goto undo;
      }
    }
    size_t len = strlen(writes[i + 1]);
    ssize_t n = write(fd, writes[i + 1], len);
    if (n < 0 || (size_t)n != len) {
      r = failure(made + 1 + i / 2, n < 0 ? errno : EIO);
      goto undo;
    }
  }
  if (fd >= 0) close(fd);
  return 0;
undo:
  if (fd >= 0) close(fd);
  while (made-- > 0) rmdir(dirs[made]);
  return r;
}
