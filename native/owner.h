/* A container's life tied to the Node process that owns it (owner.c). */
#ifndef MC_OWNER_H
#define MC_OWNER_H

#include <poll.h>
#include <sys/types.h>

/*
 * In the shim of an owned (not detached) container: from now on the owner's
 * death kills the container (once it exists) and the shim carries on to reap
 * it; before it exists, the shim exits. Exits at once if `owner` is gone.
 */
void mc_owner_watch(pid_t owner);

/*
 * clone() of the container (fork-like: returns 0 in the child, the pid or -1
 * in the shim). The child dies with the shim (PR_SET_PDEATHSIG) even when the
 * shim dies between the clone and the prctl, and the shim knows which process
 * to kill before any owner death can be handled.
 */
pid_t mc_owner_clone(unsigned long flags);

/* The most fds mc_owner_fds() adds: one per thread of the owner. */
#define MC_OWNER_MAX_FDS 128

/*
 * While the container runs, the shim's monitor polls these fds with its own
 * (the container's exit, its output): the first of the owner's threads to
 * exit wakes it. Returns how many were put in `fds`; 0 when mc_owner_watch()
 * was not called (detached, exec), or before Linux 6.9 (PDEATHSIG alone).
 */
int mc_owner_fds(struct pollfd *fds, int max);

/* After a poll: if the owner is dying, the container is killed now, not when Node's main thread finally exits. */
void mc_owner_events(struct pollfd *fds, int n);

/* Closes what mc_owner_fds() opened. */
void mc_owner_release(struct pollfd *fds, int n);

#endif
