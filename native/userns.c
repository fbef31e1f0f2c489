/*
 * The rootless container's user namespace, in its single-id form: the shim
 * (single-threaded: a threaded process gets EINVAL) unshares it and maps root
 * inside to the caller, before cloning the container's other namespaces,
 * which the new user namespace then owns. bubblewrap and runc's --rootless do
 * the same; mapping more ids needs the setuid newuidmap/newgidmap, which the
 * runtime's keeper (keeper.c) had run once on its own namespace: then the
 * shim joins that one instead (mc_join_userns).
 */
#define _GNU_SOURCE
#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "report.h"

static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, text, strlen(text));
  int saved = errno;
  close(fd);
  errno = saved;
  return n == (ssize_t)strlen(text) ? 0 : -1;
}

int mc_map_self(uid_t uid, gid_t gid) {
  char map[64];
  /* gid_map may only be written by an unprivileged process once setgroups is denied. */
  if (write_file("/proc/self/setgroups", "deny") < 0) return -1;
  snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)uid);
  if (write_file("/proc/self/uid_map", map) < 0) return -1;
  snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)gid);
  return write_file("/proc/self/gid_map", map);
}

void mc_enter_userns(void) {
  uid_t uid = geteuid();
  gid_t gid = getegid();
  if (unshare(CLONE_NEWUSER) < 0) mc_fail("userns", errno, "unshare(CLONE_NEWUSER)");
  if (mc_map_self(uid, gid) < 0) mc_fail("userns", errno, "map root to uid %u gid %u", (unsigned)uid, (unsigned)gid);
}

void mc_join_userns(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) mc_fail("userns", errno, "open %s", path);
  /* The caller created the namespace (the keeper is its own process), so it holds CAP_SYS_ADMIN there. */
  if (setns(fd, CLONE_NEWUSER) < 0) mc_fail("userns", errno, "setns %s", path);
  close(fd);
}
