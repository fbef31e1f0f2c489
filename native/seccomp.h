/* Installs the container's seccomp filter (compiled in TypeScript, lib/seccomp/). */
#ifndef MC_SECCOMP_H
#define MC_SECCOMP_H

#include "spec.h"

/* Installs spec->seccomp, if any; on failure reports through mc_fail and exits. */
void mc_install_seccomp(const struct mc_spec *spec);

#endif
