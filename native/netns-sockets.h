#ifndef MC_NETNS_SOCKETS_H
#define MC_NETNS_SOCKETS_H
/* mc-shim netns-sockets <netns path> (netns-sockets.c): rtnetlink and nf_tables sockets of that namespace, sent over fd. */
int mc_netns_sockets(int fd, const char *netns_path);

#include <stddef.h>
/* A bound (port chosen by the kernel), non-blocking netlink socket of this thread's network namespace; Node's event loop polls it. */
int mc_open_netlink(int protocol);

#include "sockets.h"
#endif
