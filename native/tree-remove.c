/*
 * See tree-remove.h. The walk holds the fd of the directory it is in and nothing per level: a
 * container decides how deep its writable layer goes, and a walk holding an fd and a DIR stream
 * (32 KiB) per level, or a stack frame per level, lets a chain of mkdirs made inside a container
 * exhaust the fds, the memory or the thread's stack of the process that removes it.
 */
#define _GNU_SOURCE
#include "tree-remove.h"
#include "glibc-baseline.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The names of the last levels descended, by depth modulo this: going back up needs no search then. */
#define NAME_RING 64

/* The path from the top, as far as it is remembered: ring[d % NAME_RING] names the directory entered from depth d. */
struct descent {
  char ring[NAME_RING][NAME_MAX + 1];
  unsigned long ring_depth[NAME_RING];
  unsigned long depth;
};

/* A fresh stream of the directory `fd` (its own offset: a rescan starts at the beginning), `fd` kept open. */
static DIR *stream_of(int fd) {
  int own = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (own < 0) return NULL;
  DIR *d = fdopendir(own);
  if (!d) close(own);
  return d;
}

/* Closes the stream `d` and returns `r`, errno as it was (a failure's, for the caller to report). */
static int closed_returning(DIR *d, int r) {
  int saved = errno;
  closedir(d);
  errno = saved;
  return r;
}

/*
 * Unlinks every entry of the directory `fd` that is not a directory, up to its first subdirectory,
 * whose name goes to `sub`: 1 when there is one, 0 when `fd` is empty now, -1 with errno.
 */
static int clear_to_subdir(int fd, char *sub) {
  DIR *d = stream_of(fd);
  if (!d) return -1;
  int r = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    /* The listing's type saves an unlink that would fail with EISDIR; DT_UNKNOWN tries the unlink first. */
    if (e->d_type != DT_DIR && (unlinkat(fd, e->d_name, 0) == 0 || errno == ENOENT)) continue;
    if (e->d_type != DT_DIR && errno != EISDIR) {
      r = -1;
      break;
    }
    strcpy(sub, e->d_name);
    r = 1;
    break;
  }
  return closed_returning(d, r);
}

/* The name under which the directory of inode `ino` is in `parent`, found by a scan: 0, or -1 with errno. */
static int name_by_inode(int parent, ino_t ino, char *name) {
  DIR *d = stream_of(parent);
  if (!d) return -1;
  struct dirent *e;
  int r = -1;
  errno = ENOENT;
  while ((e = readdir(d)))
    if (e->d_ino == ino && strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      strcpy(name, e->d_name);
      r = 0;
      break;
    }
  return closed_returning(d, r);
}

/*
 * From the empty directory `*cur` up to its parent, removing it there: `*cur` becomes the parent's
 * fd. Never leaves the filesystem of `top` (a parent on another device is EXDEV). 0, or -1 with errno.
 */
static int climb(int *cur, struct descent *at, const struct stat *top) {
  struct stat here;
  if (sys_fstat(*cur, &here) < 0) return -1;
  int up = openat(*cur, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (up < 0) return -1;
  struct stat above;
  int stated = sys_fstat(up, &above);
  if (stated == 0 && above.st_dev != top->st_dev) errno = EXDEV;
  if (stated < 0 || above.st_dev != top->st_dev) {
    int saved = errno;
    close(up);
    errno = saved;
    return -1;
  }
  at->depth--;
  unsigned long slot = at->depth % NAME_RING;
  char found[NAME_MAX + 1];
  const char *name = at->ring_depth[slot] == at->depth ? at->ring[slot] : found;
  if ((name == found && name_by_inode(up, here.st_ino, found) < 0) || (unlinkat(up, name, AT_REMOVEDIR) < 0 && errno != ENOENT)) {
    int saved = errno;
    close(up);
    errno = saved;
    return -1;
  }
  close(*cur);
  *cur = up;
  /* Back at the top: it must be the directory the walk started in (nothing here moves a directory, but a check costs nothing). */
  if (at->depth == 0 && (above.st_dev != top->st_dev || above.st_ino != top->st_ino)) {
    errno = EXDEV;
    return -1;
  }
  return 0;
}

/* Empties the directory `top_fd` (closed here), depth first, with one fd at a time. 0, or -1 with errno. */
static int empty_tree(int top_fd) {
  struct descent at; /* 16 KiB, on the stack of whichever thread removes */
  struct stat top;
  if (sys_fstat(top_fd, &top) < 0) {
    close(top_fd);
    return -1;
  }
  at.depth = 0;
  memset(at.ring_depth, 0xff, sizeof(at.ring_depth));
  int cur = top_fd;
  for (;;) {
    char sub[NAME_MAX + 1];
    int found = clear_to_subdir(cur, sub);
    if (found < 0) break;
    if (found) {
      int next = openat(cur, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0 && errno == ENOENT) continue;
      if (next < 0) break;
      unsigned long slot = at.depth % NAME_RING;
      strcpy(at.ring[slot], sub);
      at.ring_depth[slot] = at.depth++;
      close(cur);
      cur = next;
      continue;
    }
    if (at.depth == 0) {
      close(cur);
      return 0;
    }
    if (climb(&cur, &at, &top) < 0) break;
  }
  int saved = errno;
  close(cur);
  errno = saved;
  return -1;
}

int mc_tree_remove_at(int parent, const char *base) {
  int r = unlinkat(parent, base, 0);
  if (r < 0 && errno == EISDIR) {
    int fd = openat(parent, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    r = fd < 0 || empty_tree(fd) < 0 ? -1 : unlinkat(parent, base, AT_REMOVEDIR);
  }
  return r < 0 && errno != ENOENT ? -1 : 0;
}
