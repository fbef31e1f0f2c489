/* Fd passing over unix sockets (sockets.c), for the shim's modes and libmcnative alike. */
#ifndef MC_SOCKETS_H
#define MC_SOCKETS_H
#include <stddef.h>

/* A keeper's batch of opens (openeach) answers with up to 32 fds; other senders pass one or two. */
#define MC_SEND_FDS_MAX 32
/* Sends `len` bytes of `payload` with `n` (at most MC_SEND_FDS_MAX) fds attached (SCM_RIGHTS); the bytes sent, or -errno (errno set). */
int mc_send_fds(int fd, const char *payload, size_t len, const int *fds, int n);
/*
 * One message of `sock` into `buf`, with up to `max_fds` fds received (close-on-exec; the rest of `fds` -1),
 * waiting up to `timeout_ms` for it (0: not at all, negative: without bound); the byte count, or -errno.
 */
int mc_recv_fds(int sock, char *buf, int buf_len, int *fds, int max_fds, int timeout_ms);
#endif
