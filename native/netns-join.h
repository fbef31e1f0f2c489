/* Entering another process's network namespace from the single-threaded shim (netns-join.c). */
#ifndef MC_NETNS_JOIN_H
#define MC_NETNS_JOIN_H

/*
 * setns into the network namespace at `path` (/proc/<pid>/ns/net, /run/netns/<name>). A caller
 * that is not root first joins the user namespace owning it: setns(CLONE_NEWNET) needs
 * CAP_SYS_ADMIN there, which an unprivileged owner of that user namespace only has inside it.
 * 0, or -1 with errno and *step naming what failed ("open netns", "join userns", "join netns").
 */
int mc_join_netns(const char *path, const char **step);

/* Writes "E <step> <errno>\n" to fd (the caller's failure line for Node). */
void mc_say_join_failure(int fd, const char *step, int err);

#endif
