/*
 * The network namespace sent after the spec (spec->netns_late). Joining a bridge network takes Node
 * milliseconds (an address, a veth end moved into a namespace, port rules, hosts files), and the
 * child's own setup (clone, cgroups, the overlay and most system mounts) needs none of it. So Node
 * sends the spec first and the namespace's path when its network is ready; the child reads it from
 * the control socket it kept, just before the first mount that shows the network namespace
 * (sysfs shows the mounter's: /sys/class/net) or the first sysctl (net.* is per namespace), and at
 * the latest before pivot_root. Nothing of the program runs before the join: it is still our code.
 *
 * The message is encoded like the spec (a uint32 length, then NUL-terminated tokens): "netnspath"
 * and the path, which Node holds open until the shim reports the start.
 */
#define _GNU_SOURCE
#include "netns-late.h"
#include "prestart.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "spec.h"
#include "steps.h"

/* The control socket the message comes on; -1 without one expected (or once joined). */
static int control = -1;
/* The spec, whose claim brings the namespace when it is a pre-started container's (prestart.h). */
static struct mc_spec *late_spec;

void mc_netns_late_expect(int fd, struct mc_spec *spec) {
  control = fd;
  late_spec = spec;
}

/* The path the message names, into buf; fails via mc_fail. */
static void read_path(char *buf, size_t size) {
  static const char key[] = "netnspath";
  uint32_t len;
  if (mc_read_all(control, &len, sizeof(len)) < 0) mc_fail("network namespace", EPIPE, "Node sent no network namespace (its start was abandoned)");
  if (len <= sizeof(key) || len > size + sizeof(key)) mc_fail("network namespace", EINVAL, "message of %u bytes", len);
  char msg[sizeof(key) + 4096];
  if (mc_read_all(control, msg, len) < 0) mc_fail("network namespace", EPIPE, "message cut short");
  if (memcmp(msg, key, sizeof(key)) || msg[len - 1]) mc_fail("network namespace", EINVAL, "malformed message");
  memcpy(buf, msg + sizeof(key), len - sizeof(key));
}

void mc_netns_late_join(void) {
  if (control < 0) return;
  char path[4096];
  if (late_spec->prestart) {
    /* A pre-started container is claimed here, its namespace in its claim: it waits before its first use of one. */
    mc_prestart_await_claim(late_spec, 0);
    if (!late_spec->netns_path) mc_fail("claim", EINVAL, "a claim without the network namespace its container waits for");
    snprintf(path, sizeof(path), "%s", late_spec->netns_path);
  } else {
    read_path(path, sizeof(path));
    close(control);
  }
  control = -1;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) mc_fail("open network namespace", errno, "%s", path);
  if (setns(fd, CLONE_NEWNET) < 0) mc_fail("join network namespace", errno, "%s", path);
  close(fd);
  mc_step(MC_STEP_NETNS_JOINED);
}
