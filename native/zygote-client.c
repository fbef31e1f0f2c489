/* libmcnative's side of the zygote's protocol (zygote.h): called through koffi, one request at a time per zygote. */
#define _GNU_SOURCE
#include "zygote.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "sockets.h"

/*
 * This process's umask now, from /proc/self/status (Linux 4.7+): umask(2) can only read it by
 * setting it, which races with Node's other threads. -1 when it cannot be read.
 */
static int32_t current_umask(void) {
  FILE *f = fopen("/proc/self/status", "re");
  if (!f) return -1;
  char line[128];
  int32_t mask = -1;
  while (fgets(line, sizeof(line), f))
    if (!strncmp(line, "Umask:", 6)) {
      mask = (int32_t)strtol(line + 6, NULL, 8);
      break;
    }
  fclose(f);
  return mask;
}

int mc_zygote_fork(int zygote, const int *fds, int nfds) {
  if (nfds != 1 && nfds != 4) return -EINVAL;
  /* The shim takes Node's umask of this moment, as a shim spawned now would (the zygote's is Node's of its own start). */
  char request[1 + sizeof(int32_t)] = {nfds == 1 ? 'F' : 'E'};
  int32_t mask = current_umask();
  memcpy(request + 1, &mask, sizeof(mask));
  int sent = mc_send_fds(zygote, request, sizeof(request), fds, nfds);
  if (sent < 0) return sent;
  /* A stopped or wedged zygote must not hold this thread (and every later start, queued behind it in
     Node) forever: a fork answers in well under a millisecond, so 2 s means it will not answer. */
  struct timeval bound = {.tv_sec = 2};
  if (setsockopt(zygote, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof(bound)) < 0) return -errno;
  int32_t reply;
  ssize_t n;
  do n = recv(zygote, &reply, sizeof(reply), MSG_WAITALL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
  /* The zygote is gone (Node's request reached no one, or a zygote of another protocol exited). */
  if (n != sizeof(reply)) return -EPIPE;
  return reply;
}
