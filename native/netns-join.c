/*
 * Joining a network namespace that may belong to a rootless runtime's user
 * namespace. Node cannot setns itself (it is multi-threaded, and an
 * unprivileged process lacks CAP_SYS_ADMIN in its own user namespace), so the
 * shim's network modes (netns-sockets.c, relay.c) do it before their work.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/nsfs.h>

#include "netns-join.h"

static int fail(const char *what, const char **step, int fd) {
  int err = errno;
  if (fd >= 0) close(fd);
  *step = what;
  errno = err;
  return -1;
}

int mc_join_netns(const char *path, const char **step) {
  int netns = open(path, O_RDONLY | O_CLOEXEC);
  if (netns < 0) return fail("open netns", step, -1);
  if (geteuid() != 0) {
    int userns = ioctl(netns, NS_GET_USERNS);
    if (userns < 0) return fail("join userns", step, netns);
    int r = setns(userns, CLONE_NEWUSER);
    int err = errno;
    close(userns);
    errno = err;
    if (r < 0) return fail("join userns", step, netns);
  }
  if (setns(netns, CLONE_NEWNET) < 0) return fail("join netns", step, netns);
  close(netns);
  return 0;
}

void mc_say_join_failure(int fd, const char *step, int err) {
  char line[96];
  int n = snprintf(line, sizeof(line), "E %s %d\n", step, err);
  ssize_t ignored = send(fd, line, (size_t)n, MSG_NOSIGNAL);
  (void)ignored;
}
