/*
 * The warm network namespace of a spare run shim (netns-warm.h). The namespace is private to the
 * shim from birth (nothing else can open it before the spec comes), so a container that takes it
 * gets exactly what CLONE_NEWNET would have given it: a fresh namespace with only its loopback.
 */
#define _GNU_SOURCE
#include "netns-warm.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include "linux.h"
#include "report.h"

/* The namespace the shim was started in, while the shim sits in a warm one; -1 without. */
static int original = -1;

void mc_netns_warm(void) {
  int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  if (unshare(CLONE_NEWNET) < 0) {
    close(fd);
    return;
  }
  const char *step;
  if (mc_try_loopback_up(&step) < 0) {
    /* Never seen, but then the start goes on as without a warm namespace. */
    if (setns(fd, CLONE_NEWNET) < 0) mc_fail("leave warm network namespace", errno, "setns");
    close(fd);
    return;
  }
  original = fd;
}

unsigned long mc_netns_settle(struct mc_spec *spec) {
  unsigned long flags = spec->clone_flags;
  if (original < 0) return flags;
  /* A user namespace's container needs a network namespace that user namespace owns: a new one. */
  if ((flags & CLONE_NEWNET) && !spec->userns && !spec->userns_path) {
    spec->loopback_up = 0;
    flags &= ~(unsigned long)CLONE_NEWNET;
  } else if (setns(original, CLONE_NEWNET) < 0) {
    mc_fail("leave warm network namespace", errno, "setns");
  }
  close(original);
  original = -1;
  return flags;
}
