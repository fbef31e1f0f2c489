/* See tree-remove.h. */
#define _GNU_SOURCE
#include "tree-remove.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Removes everything in the directory `fd` (closed here), depth first, never following a symlink. */
static int empty_dir(int fd) {
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return -1;
  }
  struct dirent *e;
  int r = 0;
  while (r == 0 && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    /* The listing's type saves an unlink that would fail with EISDIR; DT_UNKNOWN tries the unlink first. */
    if (e->d_type != DT_DIR && (unlinkat(fd, e->d_name, 0) == 0 || errno == ENOENT)) continue;
    if (e->d_type != DT_DIR && errno != EISDIR) {
      r = -1;
      break;
    }
    int sub = openat(fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0 && errno == ENOENT) continue;
    if (sub < 0 || empty_dir(sub) < 0 || (unlinkat(fd, e->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT)) r = -1;
  }
  int saved = errno;
  closedir(d);
  errno = saved;
  return r;
}

int mc_tree_remove_at(int parent, const char *base) {
  int r = unlinkat(parent, base, 0);
  if (r < 0 && errno == EISDIR) {
    int fd = openat(parent, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    r = fd < 0 || empty_dir(fd) < 0 ? -1 : unlinkat(parent, base, AT_REMOVEDIR);
  }
  return r < 0 && errno != ENOENT ? -1 : 0;
}
