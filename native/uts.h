/*
 * The container's hostname (uts.c). A pre-started container sets the hostname it was made with
 * while it waits for its claim: a claimed run takes the pre-started container's id, so its claim
 * usually brings that same name (the id's first 12 characters), and then there is nothing left to
 * do once the claim is in. A claim with another name (or none) still ends with exactly that name.
 */
#ifndef MC_UTS_H
#define MC_UTS_H

#include "spec.h"

/* A pre-started container, before its claim: sets spec->hostname now, best effort (the claim's is set as ever). */
void mc_preset_uts(const struct mc_spec *spec);
/* Sets spec->hostname (without one: the host's, which the clone copied), unless set already. Fails via mc_fail. */
void mc_setup_uts(const struct mc_spec *spec);

#endif
