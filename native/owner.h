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

/* The most threads of the owner watched (Node has a dozen). */
#define MC_OWNER_MAX_THREADS 128

/*
 * When the shim learnt that the owner was dying, when it sent the container
 * its SIGKILL, and when the watcher saw the container exit, in
 * CLOCK_MONOTONIC nanoseconds (0: it did not). The exit file carries them
 * (shim.c) so that anyone can split a slow death into its steps, with the
 * clock Node's process.hrtime() reads.
 */
struct mc_owner_times {
  long long notified, killed, exited;
};

/*
 * While the container runs: a thread of the shim at real-time priority
 * watches each of the owner's threads (pidfds with PIDFD_THREAD, Linux
 * 6.9+), so the first of them to exit has the container killed without
 * waiting for Node's main thread or for a CPU. No-op unless
 * mc_owner_watch() was called and the container exists.
 */
void mc_owner_guard(void);

/* Once the container has exited: waits for the watcher (it ends by itself then) and reports the times. */
void mc_owner_unguard(struct mc_owner_times *out);

/* CLOCK_MONOTONIC in nanoseconds; async-signal-safe. */
long long mc_monotonic_ns(void);

#endif
