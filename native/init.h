/* The optional minimal init (init.c). */
#ifndef MC_INIT_H
#define MC_INIT_H

#include "spec.h"

/* Forks the program, then forwards signals and reaps until it exits; never returns. */
__attribute__((noreturn)) void mc_run_init(const struct mc_spec *spec, int report_fd);

#endif
