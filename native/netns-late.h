/* A network namespace sent after the spec (netns-late.c). */
#ifndef MC_NETNS_LATE_H
#define MC_NETNS_LATE_H

/*
 * In the child of a spec with `netns_late`: the control socket `fd` is kept open for the message
 * that names the network namespace (Node sends it once the network has made the container's
 * endpoint, which it does while the child mounts its root). A pre-started container's (spec->prestart)
 * comes in its claim instead, which the child waits for there.
 */
struct mc_spec;
void mc_netns_late_expect(int fd, struct mc_spec *spec);

/*
 * Reads that message and joins the namespace it names, once; a no-op without one expected or once
 * joined. Called before the first step that needs the container's network namespace (a sysfs
 * mount, a sysctl) and at the latest before pivot_root (the namespace is a host path). Fails via
 * mc_fail, as the step that needed it.
 */
void mc_netns_late_join(void);

#endif
