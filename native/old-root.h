/*
 * The host's mount tree that pivot_root leaves stacked on the container's root, detached by a
 * helper process so that the child waits for the detach only, not for the RCU grace period that
 * umount2 waits out before it returns (old-root.c).
 */
#ifndef MC_OLD_ROOT_H
#define MC_OLD_ROOT_H

#include <sys/types.h>

/* Spare shim, before its spec: forks the helper, and keeps the end of the socket the child will inherit. */
void mc_old_root_prefork(void);

/* Shim, after the clone: closes its end of the helper's socket, which the child has (the child tells the helper itself). */
void mc_old_root_leave_to_child(void);

/* Shim: a pidfd readable once the helper has ended (-1 without a helper), for the monitor's poll. */
int mc_old_root_helper_fd(void);

/* Shim, as it exits through a failure (an end of its spec's socket included): kills and reaps the helper, which would be an orphan, and this machine's init may reap none. */
void mc_old_root_end(void);

/* Shim: reaps the helper (it would stay a zombie of ours for the container's life); `block`: wait for its end. */
void mc_old_root_reap(int block);

/*
 * Child, before pivot_root: notes which mount its root is now (the one pivot_root will stack on the new root).
 * `without_statmount` (test-only, the spec's legacy_mounts): watch mountinfo as before 6.8.
 */
void mc_old_root_note(int without_statmount);

/* Child, right after pivot_root(".", "."), cwd the new root (`new_root_fd`): asks the helper to detach the old root, handing it our mount namespace and new root (or detaches it). */
void mc_old_root_hand_over(int new_root_fd);

/* Child, with its cwd still the root and its capabilities: returns once the old root is gone from its mount namespace. Fails via mc_fail. */
void mc_old_root_await(void);

#endif
