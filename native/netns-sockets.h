#ifndef MC_NETNS_SOCKETS_H
#define MC_NETNS_SOCKETS_H
/* mc-shim netns-sockets <netns path> (netns-sockets.c): rtnetlink and nf_tables sockets of that namespace, sent over fd. */
int mc_netns_sockets(int fd, const char *netns_path);
#endif
