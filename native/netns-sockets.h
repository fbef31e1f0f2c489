#ifndef MC_NETNS_SOCKETS_H
#define MC_NETNS_SOCKETS_H
/* mc-shim netns-sockets <netns path> (netns-sockets.c): rtnetlink and nf_tables sockets of that namespace, sent over fd. */
int mc_netns_sockets(int fd, const char *netns_path);

#include <stddef.h>
#define MC_SEND_FDS_MAX 2
/* Sends `len` bytes of `payload` with `n` (at most MC_SEND_FDS_MAX) fds attached (SCM_RIGHTS); 0, or -1 with errno. */
int mc_send_fds(int fd, const char *payload, size_t len, const int *fds, int n);
#endif
