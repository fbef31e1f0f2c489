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

struct mc_spec;

/*
 * keep-id: a container cloned with CLONE_NEWUSER from the joined namespace gets the spec's uid_maps and
 * gid_maps, written by the shim (mc_map_nested, with the child's pid) while the child waits at the
 * gate (mc_await_nested_maps, first thing in the child). `gate` is a pipe made before the clone.
 */
void mc_map_nested(pid_t pid, const struct mc_spec *s, int gate[2]);
void mc_await_nested_maps(int gate[2]);

#endif
