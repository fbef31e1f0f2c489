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
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define OWN_NETNS "/proc/thread-self/ns/net"
/* Opened inside a namespace, the file stays that namespace's wherever it is written from. */
#define IPV6_DEFAULT_OFF "/proc/sys/net/ipv6/conf/default/disable_ipv6"

/*
 * In the calling thread's (new) namespace: turns IPv6 off by default, so that a device made there
 * next is born without it. held[0]: an fd on the default (O_CLOEXEC), to give it back with
 * mc_ipv6_default_restore; -1 when the kernel has no IPv6 (nothing to turn off). held[1]: the
 * default it had (a new namespace's may be inherited, net.core.devconf_inherit_init_net).
 */
static int ipv6_default_off(int32_t *held) {
  held[0] = -1;
  held[1] = 0;
  int fd = open(IPV6_DEFAULT_OFF, O_RDWR | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? 0 : -errno;
  char old = '0';
  errno = EIO;
  if (pread(fd, &old, 1, 0) != 1 || pwrite(fd, "1", 1, 0) != 1) {
    int err = -errno;
    close(fd);
    return err;
  }
  held[0] = fd;
  held[1] = old == '1';
  return 0;
}

/* A new namespace's fd, the calling thread back where it was; with `held`, its IPv6 default off first. */
static int netns_new(int32_t *held) {
  int home = open(OWN_NETNS, O_RDONLY | O_CLOEXEC);
  if (home < 0) return -errno;
  if (unshare(CLONE_NEWNET) < 0) {
    int err = -errno;
    close(home);
    return err;
  }
  int fd = open(OWN_NETNS, O_RDONLY | O_CLOEXEC);
  int r = fd < 0 ? -errno : fd;
  if (r >= 0 && held) {
    int err = ipv6_default_off(held);
    if (err < 0) {
      close(fd);
      r = err;
    }
  }
  /* A worker left in the new namespace would make every later socket of its calls there: never go on. */
  if (setns(home, CLONE_NEWNET) < 0) abort();
  close(home);
  return r;
}

/*
 * Makes a network namespace (only lo, down) and returns an fd on it (O_CLOEXEC), the calling
 * thread back in the namespace it was in; or -errno.
 */
int mc_netns_new(void) {
  return netns_new(NULL);
}

/*
 * As mc_netns_new, with the namespace's IPv6 default turned off (held: see ipv6_default_off) until
 * mc_ipv6_default_restore: a veth end made in it is born without IPv6, where writing its own
 * disable_ipv6 afterwards waits for the rtnl lock (spinning: the sysctl retries the write).
 * lo, made with the namespace, keeps IPv6.
 */
int mc_netns_new_ipv6_off(int32_t *held) {
  return netns_new(held);
}

/*
 * Gives a namespace its IPv6 default back (`old`, on the fd mc_netns_new_ipv6_off held) and closes
 * the fd; 0 or -errno. Since Linux 6.9 this write takes no lock; before, it waits for the rtnl lock as
 * any disable_ipv6 write does.
 */
int mc_ipv6_default_restore(int fd, int old) {
  int r = pwrite(fd, old ? "1" : "0", 1, 0) == 1 ? 0 : -errno;
  close(fd);
  return r;
}
