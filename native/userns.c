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
#include "spec.h"

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

/* One map file of `pid`, all lines in one write (the kernel takes a map once, whole). */
static int write_map(pid_t pid, const char *file, const struct mc_idmap *maps, size_t n) {
  char path[64], text[1024];
  size_t len = 0;
  for (size_t i = 0; i < n && len < sizeof(text); i++) len += (size_t)snprintf(text + len, sizeof(text) - len, "%u %u %u\n", maps[i].inside, maps[i].outside, maps[i].count);
  if (len >= sizeof(text)) {
    errno = E2BIG;
    return -1;
  }
  snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
  return write_file(path, text);
}

void mc_await_nested_maps(int gate[2]) {
  close(gate[1]);
  char go;
  ssize_t n;
  while ((n = read(gate[0], &go, 1)) < 0 && errno == EINTR) {
  }
  if (n != 1) mc_fail("userns", EPIPE, "the shim did not map the nested user namespace");
  close(gate[0]);
}

void mc_map_nested(pid_t pid, const struct mc_spec *s, int gate[2]) {
  close(gate[0]);
  /* Root in the joined namespace holds CAP_SETUID and CAP_SETGID there: any ids mapped in it, no helper. */
  if (write_map(pid, "uid_map", s->uid_maps, s->nuid_maps) < 0) mc_fail("userns", errno, "write /proc/%d/uid_map (keep-id)", (int)pid);
  if (write_map(pid, "gid_map", s->gid_maps, s->ngid_maps) < 0) mc_fail("userns", errno, "write /proc/%d/gid_map (keep-id)", (int)pid);
  ssize_t ignored = write(gate[1], "1", 1);
  (void)ignored;
  close(gate[1]);
}
