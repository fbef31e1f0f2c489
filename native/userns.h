/* A rootless container's user namespace: one id, made and mapped by the shim itself, or the keeper's, joined (userns.c). */
#ifndef MC_USERNS_H
#define MC_USERNS_H

#include <sys/types.h>

/*
 * In a process that has just unshared CLONE_NEWUSER: denies setgroups, then maps root in the
 * namespace to `uid` and `gid` outside (its own ids: the one map the kernel lets an unprivileged
 * process write for itself, with no setuid helper). 0, or -1 with errno.
 */
int mc_map_self(uid_t uid, gid_t gid);

/* unshare(CLONE_NEWUSER) and mc_map_self with the caller's ids; fails (mc_fail) at step "userns". */
void mc_enter_userns(void);

/*
 * setns() into the user namespace at `path` (the runtime keeper's, /proc/<pid>/ns/user), whose maps
 * newuidmap/newgidmap wrote once; the process must be single-threaded. Fails (mc_fail) at step "userns".
 */
void mc_join_userns(const char *path);

#endif
