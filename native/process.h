/* The process's identity and its execve (process.c). */
#ifndef MC_PROCESS_H
#define MC_PROCESS_H

#include "spec.h"

/* Working directory, groups, uid/gid and capabilities. Fails via mc_fail. */
void mc_enter_identity(const struct mc_spec *spec);

/* execve with $PATH lookup in the container's environment; never returns. */
__attribute__((noreturn)) void mc_exec(const struct mc_spec *spec);

#endif
