/*
 * A pre-started container (spec->prestart): set up ahead of the run that claims it.
 *
 * Node keeps one per recently run shape (image, network, mounts, limits: everything but the process)
 * so that a run of that shape only has to send its process. The child sets up everything a start
 * does up to the process: namespaces, cgroups, the overlay and every mount, pivot_root, the old root
 * detached, the loopback up. It then says it is ready and waits on the control socket for the claim:
 * a message framed like the spec holding the process (argv, env, cwd, identity, capabilities,
 * no_new_privs, seccomp, rlimits) and the hostname (spec.h, mc_spec_read_process). With it, it sets
 * the hostname and its identity and execs, as any start; its failures go the same way. A container
 * of a bridge or user network (spec->netns_late) is ready before its first use of a network
 * namespace instead (its sysfs mount), and its claim holds the namespace's path too ("netnspath"),
 * so that the network is joined at the claim, per run, as the run's ports and aliases say. Node ending
 * the socket instead (a pool dropped) ends the child at step "claim" (EPIPE).
 *
 * The shim says "R <pid>" once the child is ready, and "S" as ever once the program runs.
 */
#ifndef MC_PRESTART_H
#define MC_PRESTART_H
#include "spec.h"

/* Shim, before the clone: the pipe the child says it is ready on. Fails via mc_fail. */
void mc_prestart_open(void);
/* Child, at its start: keeps `control` (the socket the claim comes on) and the ready pipe's write end. */
void mc_prestart_child_begin(int control);
/*
 * Child, set up to the process (`root_final`), or up to its first use of a network namespace sent late
 * (netns-late.h), whose path then comes in the claim: says it is ready and reads the claim into `spec`; once.
 */
void mc_prestart_await_claim(struct mc_spec *spec, int root_final);
/* Shim, after the clone: 1 once the child said it is ready, 0 when it ended (or failed) first. */
int mc_prestart_ready(void);
#endif
