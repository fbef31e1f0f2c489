/* Root filesystem, mounts and namespaced identity of a container (linux.c). */
#ifndef MC_LINUX_H
#define MC_LINUX_H

#include "spec.h"

/* Mounts the root and every op of the spec, then pivots into it. Fails via mc_fail. */
void mc_setup_rootfs(const struct mc_spec *spec);
/* Brings the network namespace's loopback up: 0, or -1 with errno and *step naming the call that failed. */
int mc_try_loopback_up(const char **step);
/* mc_try_loopback_up, failing via mc_fail. */
void mc_loopback_up(void);

#endif
