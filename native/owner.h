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
 *
 * With a cgroup v2 directory `cgroup_fd` (else -1), the child is born in it (clone3 with
 * CLONE_INTO_CGROUP), which spares it the move a write to cgroup.procs makes (the kernel's global
 * threadgroup lock, whose write side waits for an RCU grace period). *born says whether it was;
 * where the kernel refuses (before 5.7, or a cgroup it cannot be born in) it is a plain clone.
 */
pid_t mc_owner_clone(unsigned long flags, int cgroup_fd, int *born);

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
 * In a `run` shim, before it reads its spec (while it waits in Node's pool
 * of spare shims): opens a pidfd of each of `owner`'s threads (PIDFD_THREAD,
 * Linux 6.9+; none before, then PDEATHSIG alone), for the watcher to poll.
 * Whether the container will be owned is not known yet.
 */
void mc_owner_prepare(pid_t owner);

/*
 * Once the container runs, when mc_owner_watch() was called: a thread of the
 * shim at real-time priority watches the owner's threads, so that the first
 * of them to exit has the container killed without waiting for Node's main
 * thread or for a CPU. It is started only now, once the container is cloned:
 * a raw clone() of a process with another thread leaves glibc's thread list
 * naming a thread the child does not have, and the child's setgroups() would
 * wait for it forever (its set*id calls signal every listed thread).
 */
void mc_owner_guard(void);

/* Once the container has exited: waits for the watcher (it ends by itself then) and reports the times. */
void mc_owner_unguard(struct mc_owner_times *out);

/* A pidfd of the container made by mc_owner_clone() (the watcher's; never close it), or -1. */
int mc_owner_container_fd(void);

#endif
