/* The process's identity and its execve (process.c). */
#ifndef MC_PROCESS_H
#define MC_PROCESS_H

#include "spec.h"

/* Working directory, groups, uid/gid and capabilities. Fails via mc_fail. */
void mc_enter_identity(const struct mc_spec *spec);

/*
 * A pre-started container, before its claim (its root final): reads the bounding set (which the
 * claim's capabilities are kept within), and looks up the program the container was made with, so
 * that the lookup of a claim's (usually the same) finds the overlay's entries ready. Off the claim's path.
 */
void mc_probe_capabilities(void);
void mc_warm_exec(const struct mc_spec *spec);

/* execve with $PATH lookup in the container's environment; never returns. */
__attribute__((noreturn)) void mc_exec(const struct mc_spec *spec);

#endif
