/*
 * The start path's step times, for `npm run bench -- start --breakdown`:
 * CLOCK_MONOTONIC nanoseconds (Node's process.hrtime clock), stamped by the
 * shim and by the container's child before execve. The child writes them
 * into a page shared with the shim (it has its own copy of everything
 * else), and the shim sends them to Node in a "T" line right after "S".
 * A stamp costs one vDSO clock read; a step not taken stays 0.
 */
#ifndef MC_STEPS_H
#define MC_STEPS_H

/* The order is the protocol: lib/shim/steps.ts names them in this order. */
enum mc_step {
  MC_STEP_SPEC_READ,      /* shim: the whole spec read */
  MC_STEP_CLONE,          /* shim: stdio, log, cgroup files opened; clone() called */
  MC_STEP_CHILD,          /* child: running, in its new namespaces */
  MC_STEP_CGROUP_JOINED,  /* child: in its cgroups (and cgroup namespace) */
  MC_STEP_MOUNTS,         /* child: rootfs and every mount op but the masked and read-only paths done, before pivot_root */
  MC_STEP_PIVOT_ROOT,     /* child: pivot_root, then masked and read-only paths (the old root's detach handed over) */
  MC_STEP_SECCOMP,        /* child: identity set, about to install the seccomp filter */
  MC_STEP_EXECVE,         /* child: filter installed, execve() called */
  MC_STEP_EXEC_SEEN,      /* shim: the report pipe closed by a successful execve */
  MC_STEP_NETNS_JOINED,   /* child: the network namespace sent after the spec joined (netns-late.h) */
  MC_STEP_COUNT
};

/* CLOCK_MONOTONIC in nanoseconds; async-signal-safe. */
long long mc_monotonic_ns(void);

/* Maps the shared page (before the spec is read: off the start's path). Without it stamps are dropped. */
void mc_steps_init(void);

/* Stamps `step` now. */
void mc_step(enum mc_step step);

/* "T <ns> <ns> ...\n" of every step, into buf. */
void mc_steps_line(char *buf, unsigned long len);

#endif
