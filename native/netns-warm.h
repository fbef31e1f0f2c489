/* A spare run shim's network namespace, made before its spec arrives (netns-warm.c). */
#ifndef MC_NETNS_WARM_H
#define MC_NETNS_WARM_H

#include "spec.h"

/*
 * Off the start's path, while the spare shim waits for a spec: moves the shim into a new network
 * namespace with its loopback up, keeping an fd of the one it came from. Making a network namespace
 * is most of clone()'s cost (half a millisecond, and milliseconds behind the rtnl lock on a busy
 * host). Without the privilege (a rootless runtime's shim) nothing happens.
 */
void mc_netns_warm(void);

/*
 * Once the spec is read, before any user namespace is entered: the clone flags to use. A container
 * with a network namespace of its own and no user namespace takes the warm one (no CLONE_NEWNET,
 * loopback already up); any other goes back to the original namespace first, so it is cloned from
 * there exactly as without a warm one. Fails via mc_fail.
 */
unsigned long mc_netns_settle(struct mc_spec *spec);

#endif
