/* libmcnative's side of the zygote's protocol (zygote.h): called through koffi, one request at a time per zygote. */
#define _GNU_SOURCE
#include "zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "sockets.h"

/* /proc/self/status, opened once (by the first mc_zygote_attach): -1 until then, or when it cannot be opened. */
static int status_fd = -1;

/*
 * This process's umask now, from /proc/self/status (Linux 4.7+): umask(2) can only read it by
 * setting it, which races with Node's other threads. A pread at offset 0 of the fd kept open makes
 * the kernel write the file anew, so it is the umask of this moment. -1 when it cannot be read.
 */
static int32_t current_umask(void) {
  char status[4096];
  int fd = __atomic_load_n(&status_fd, __ATOMIC_ACQUIRE);
  ssize_t n = fd < 0 ? -1 : pread(fd, status, sizeof(status) - 1, 0);
  if (n <= 0) return -1;
  status[n] = 0;
  /* Umask comes fourth, well within the first 4 KiB. */
  const char *line = strstr(status, "\nUmask:");
  return line ? (int32_t)strtol(line + 7, NULL, 8) : -1;
}

int mc_zygote_attach(int zygote) {
  if (__atomic_load_n(&status_fd, __ATOMIC_ACQUIRE) < 0) {
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    int none = -1;
    /* Two zygotes attached at once (copies of the module in two threads): one fd is kept. */
    if (fd >= 0 && !__atomic_compare_exchange_n(&status_fd, &none, fd, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) close(fd);
  }
  /* A stopped or wedged zygote must not hold a fork's thread (and every later start, queued behind it in
     Node) forever: a fork answers in well under a millisecond, so 2 s means it will not answer. */
  struct timeval bound = {.tv_sec = 2};
  return setsockopt(zygote, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof(bound)) < 0 ? -errno : 0;
}

/* One request: a shim whose fd 3 is fds[0] (and stdio fds[1..3] when nfds is 4), bare or not. 0 once sent, or -errno. */
static int send_request(int zygote, const int *fds, int nfds, int bare) {
  /* The shim takes Node's umask of this moment, as a shim spawned now would (the zygote's is Node's of its own start). */
  char request[1 + sizeof(int32_t)] = {nfds == 1 ? (bare ? 'B' : 'F') : 'E'};
  int32_t mask = current_umask();
  memcpy(request + 1, &mask, sizeof(mask));
  int sent = mc_send_fds(zygote, request, sizeof(request), fds, nfds);
  return sent < 0 ? sent : 0;
}

/* The zygote's next answer: a pid or its -errno, or -errno of the wait itself (-ETIMEDOUT, -EPIPE). */
static int32_t next_answer(int zygote) {
  /* Bounded by mc_zygote_attach's SO_RCVTIMEO: ETIMEDOUT after 2 s. */
  int32_t reply;
  ssize_t n;
  do n = recv(zygote, &reply, sizeof(reply), MSG_WAITALL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
  /* The zygote is gone (Node's request reached no one, or a zygote of another protocol exited). */
  if (n != sizeof(reply)) return -EPIPE;
  return reply;
}

int mc_zygote_fork_many(int zygote, const int *fds, int nfds, int count, const int *bare, int32_t *pids) {
  if ((nfds != 1 && nfds != 4) || count < 1) return -EINVAL;
  /* All requests first: the zygote answers them in order, forking the next while this thread reads. */
  int sent = 0;
  int failed = 0;
  while (sent < count && !(failed = send_request(zygote, fds + (size_t)sent * (size_t)nfds, nfds, bare && bare[sent]))) sent++;
  for (int i = 0; i < sent; i++) {
    pids[i] = next_answer(zygote);
    /* A failure ends the batch: a lost answer leaves the rest unknown, so each later one is that failure too
       (the caller stops the zygote on any failure, as after a single fork's). */
    if (pids[i] < 0) {
      for (int j = i + 1; j < count; j++) pids[j] = pids[i];
      return 0;
    }
  }
  for (int i = sent; i < count; i++) pids[i] = failed;
  return 0;
}

int mc_zygote_fork(int zygote, const int *fds, int nfds) {
  int32_t pid;
  int r = mc_zygote_fork_many(zygote, fds, nfds, 1, NULL, &pid);
  return r < 0 ? r : pid;
}

int mc_zygote_unclaimed(int zygote, int32_t *pids, int max) {
  int count = 0;
  while (count < max) {
    int32_t reply;
    ssize_t n = recv(zygote, &reply, sizeof(reply), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    /* Nothing more (EAGAIN), or the end of a dead zygote's answers. */
    if (n != sizeof(reply)) break;
    if (reply > 0) pids[count++] = reply;
  }
  return count;
}
