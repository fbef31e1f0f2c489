/*
 * The host's mount tree that pivot_root leaves stacked on the container's root, detached by a
 * helper process so that the child waits for the detach only, not for the RCU grace period that
 * umount2 waits out before it returns (old-root.c).
 */
#ifndef MC_OLD_ROOT_H
#define MC_OLD_ROOT_H

#include <sys/types.h>

/* Shim, before the clone: the pair of sockets between the child and its helper. */
void mc_old_root_pair(void);

/* Shim, after the clone: forks the helper for `child` (or, failing that, leaves the child to detach itself). */
void mc_old_root_fork_helper(pid_t child);

/* Child, first thing: drops the helper's end. */
void mc_old_root_child_end(void);

/* Child, before pivot_root: notes which mount its root is now (the one pivot_root will stack on the new root). */
void mc_old_root_note(void);

/* Child, right after pivot_root(".", "."), cwd the new root: asks the helper to detach the old root (or detaches it). */
void mc_old_root_hand_over(void);

/* Child, with its cwd still the root and its capabilities: returns once the old root is gone from its mount namespace. Fails via mc_fail. */
void mc_old_root_await(void);

#endif
