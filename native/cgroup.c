/*
 * The order matters: a process joins its cgroups first and only then
 * unshares (or enters) the cgroup namespace, as runc does, so the namespace's
 * root is the container's own cgroup. Joining happens in the child before
 * the filesystem is set up, so everything the container does is accounted
 * and limited from its first allocation: there is no unlimited window.
 */
#define _GNU_SOURCE
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "report.h"

int mc_cgroups_open(struct mc_spec *s) {
  /*
   * Rootless, the shim enters its user namespace before the clone, where the kernel's checks of a
   * clone into a cgroup differ from a write's: such a child joins by writing, as before.
   */
  if (s->cgroup_dir && !s->userns && !s->userns_path) {
    s->cgroup_dir_fd = open(s->cgroup_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (s->cgroup_dir_fd < 0) return -1;
  }
  if (s->ncgroup_procs == 0) return 0;
  s->cgroup_fds = calloc(s->ncgroup_procs, sizeof(int));
  if (!s->cgroup_fds) return -1;
  for (size_t i = 0; i < s->ncgroup_procs; i++) {
    s->cgroup_fds[i] = open(s->cgroup_procs[i], O_WRONLY | O_CLOEXEC);
    if (s->cgroup_fds[i] < 0) return -1;
  }
  return 0;
}

void mc_cgroups_join(struct mc_spec *s, int ns_fd) {
  for (size_t i = 0; i < s->ncgroup_procs && !s->cgroup_born; i++) {
    /* "0" is the writer itself: no pid translation across the new pid namespace. The writer is
       single-threaded, so v1's tasks file (a thread) moves all of it, without the global lock cgroup.procs takes. */
    if (write(s->cgroup_fds[i], "0", 1) != 1) mc_fail("join cgroup", errno, "%s", s->cgroup_procs[i]);
    close(s->cgroup_fds[i]);
  }
  if (s->cgroup_dir_fd >= 0) close(s->cgroup_dir_fd);
  if (!s->cgroupns) return;
  if (ns_fd >= 0 ? setns(ns_fd, CLONE_NEWCGROUP) : unshare(CLONE_NEWCGROUP))
    mc_fail("cgroup namespace", errno, "%s", ns_fd >= 0 ? "setns" : "unshare");
}

void mc_set_rlimits(const struct mc_spec *s) {
  for (size_t i = 0; i < s->nrlimits; i++) {
    const struct mc_rlimit *r = &s->rlimits[i];
    struct rlimit lim = {.rlim_cur = r->soft, .rlim_max = r->hard};
    if (setrlimit(r->resource, &lim) < 0) mc_fail("setrlimit", errno, "resource %d soft %llu hard %llu", r->resource, r->soft, r->hard);
  }
}

int mc_cgroup_oom_open(const struct mc_spec *spec) {
  return spec->oom_counter ? open(spec->oom_counter, O_RDONLY | O_CLOEXEC) : -1;
}

long long mc_cgroup_oom_kills(int fd) {
  if (fd < 0) return -1;
  char buf[1024];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf) - 1)) < 0 && errno == EINTR) {
  }
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  /* "key value" lines ("oom_kill_disable 0" on v1 is another key). */
  for (char *line = buf; line && *line;) {
    if (!strncmp(line, "oom_kill ", 9)) return strtoll(line + 9, NULL, 10);
    char *next = strchr(line, '\n');
    line = next ? next + 1 : NULL;
  }
  return -1;
}
