/*
 * A fresh network namespace made on a libuv worker thread (koffi's async call), for work kept off
 * the event loop (endpoints made warm ahead of a start): unshare(CLONE_NEWNET) sets up the new
 * namespace's loopback and per-namespace state under the kernel's pernet lock, which the cleanup of
 * dead namespaces holds, so the call takes from half a millisecond to several. Returns -errno on
 * failure (errno is per thread).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#define OWN_NETNS "/proc/thread-self/ns/net"

/*
 * Makes a network namespace (only lo, down) and returns an fd on it (O_CLOEXEC), the calling
 * thread back in the namespace it was in; or -errno.
 */
int mc_netns_new(void) {
  int home = open(OWN_NETNS, O_RDONLY | O_CLOEXEC);
  if (home < 0) return -errno;
  if (unshare(CLONE_NEWNET) < 0) {
    int err = -errno;
    close(home);
    return err;
  }
  int fd = open(OWN_NETNS, O_RDONLY | O_CLOEXEC);
  int r = fd < 0 ? -errno : fd;
  /* A worker left in the new namespace would make every later socket of its calls there: never go on. */
  if (setns(home, CLONE_NEWNET) < 0) abort();
  close(home);
  return r;
}
