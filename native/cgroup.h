/* Joining the container's cgroups and its cgroup namespace, and its rlimits (cgroup.c). */
#ifndef MC_CGROUP_H
#define MC_CGROUP_H

#include "spec.h"

/*
 * Opens the spec's join files (cgroup.procs; v1's tasks) while the host's paths are still
 * visible (before any setns into the container's mount namespace).
 * Fails the shim itself (returns -1 with errno) rather than a child.
 */
int mc_cgroups_open(struct mc_spec *spec);

/*
 * In the child, before anything else: moves the calling process into every
 * cgroup of the spec, then (when asked) into a cgroup namespace rooted
 * there, so the program sees its own cgroup as "/". ns_fd >= 0 joins an
 * existing namespace (exec), -1 makes a new one (run). Fails via mc_fail.
 */
void mc_cgroups_join(struct mc_spec *spec, int ns_fd);

/*
 * The spec's OOM counter file (memory.events, v1's memory.oom_control), opened by the shim after the
 * clone (its child never has it); -1 without one, or when it cannot be opened (Node reads it then).
 */
int mc_cgroup_oom_open(const struct mc_spec *spec);

/* The "oom_kill" count of an mc_cgroup_oom_open() file, read once and closed; -1 when unknown. */
long long mc_cgroup_oom_kills(int fd);

/* setrlimit for every limit of the spec; before dropping CAP_SYS_RESOURCE. Fails via mc_fail. */
void mc_set_rlimits(const struct mc_spec *spec);

#endif
