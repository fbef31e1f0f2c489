/*
 * A new network namespace made on a thread of its own (lib/sys/netns.ts createNetnsOffThread),
 * for a caller on a libuv worker: making one waits in the kernel (setup_net, the rtnl lock behind
 * the cleanup of dying namespaces) for a millisecond or more on a busy host, which the event loop
 * should not. The thread unshares and ends inside the new namespace, so no thread of the process
 * (the worker's, which libuv reuses for DNS and files) ever has to find its way back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

static void *unshare_and_open(void *result) {
  int *fd = result;
  if (unshare(CLONE_NEWNET) < 0) {
    *fd = -errno;
    return NULL;
  }
  *fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (*fd < 0) *fd = -errno;
  return NULL;
}

/* An fd (close-on-exec) of a new network namespace with only its loopback, down; or -errno. */
int mc_netns_create(void) {
  sigset_t all, old;
  pthread_t thread;
  int fd = -EINVAL;
  /* No signal meant for Node lands on the short-lived thread. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int err = pthread_create(&thread, NULL, unshare_and_open, &fd);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (err) return -err;
  pthread_join(thread, NULL);
  return fd;
}
