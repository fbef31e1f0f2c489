/* Fd passing over unix sockets (sockets.c), for the shim's modes and libmcnative alike. */
#ifndef MC_SOCKETS_H
#define MC_SOCKETS_H
#include <stddef.h>

/* A keeper's batch of opens (openeach) answers with up to 32 fds; other senders pass one or two. */
#define MC_SEND_FDS_MAX 32
/* Sends `len` bytes of `payload` with `n` (at most MC_SEND_FDS_MAX) fds attached (SCM_RIGHTS); the bytes sent, or -errno (errno set). */
int mc_send_fds(int fd, const char *payload, size_t len, const int *fds, int n);
#endif
