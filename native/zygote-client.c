/* libmcnative's side of the zygote's protocol (zygote.h): called through koffi, one request at a time per zygote. */
#define _GNU_SOURCE
#include "zygote.h"

#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sockets.h"

int mc_zygote_fork(int zygote, int control) {
  int sent = mc_send_fds(zygote, "F", 1, &control, 1);
  if (sent < 0) return sent;
  int32_t reply;
  ssize_t n;
  do n = recv(zygote, &reply, sizeof(reply), MSG_WAITALL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  /* The zygote is gone (Node's request reached no one, or a zygote of another protocol exited). */
  if (n != sizeof(reply)) return -EPIPE;
  return reply;
}
