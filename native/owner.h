/* A container's life tied to the Node process that owns it (owner.c). */
#ifndef MC_OWNER_H
#define MC_OWNER_H

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

/*
 * Returns once the container has exited (it is left to reap). While it runs,
 * the first of the owner's threads to exit wakes us: if the owner is dying,
 * the container is killed now, not when Node's main thread finally exits.
 * Returns at once when mc_owner_watch() was not called (detached, exec).
 */
void mc_owner_await(void);

#endif
