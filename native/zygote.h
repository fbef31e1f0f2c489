/*
 * mc-shim zygote: run shims made by fork, not by exec (zygote.c); and Node's side of its
 * protocol (zygote-client.c, in libmcnative).
 */
#ifndef MC_ZYGOTE_H
#define MC_ZYGOTE_H
#include <sys/types.h>

/* The zygote's socket to Node. fd 3 is /dev/null, so that a shim built before zygotes reads an empty spec and exits. */
#define MC_ZYGOTE_FD 4

/*
 * The zygote's loop (argv: mc-shim zygote <owner> <protocol>): for each fork request (F, Node's umask, with
 * a control socket attached), a run shim that is Node's child (CLONE_PARENT). Returns only in such a
 * child, with that socket as `control_fd`, no other fd but 0-2, the umask sent, and argv reading "mc-shim run
 * <owner>"; the zygote itself exits when Node closes its socket or dies.
 */
void mc_zygote(pid_t owner, char **argv, int control_fd);

/* Node's side: asks the zygote for a run shim whose fd 3 is `control`; its pid, or -errno. */
int mc_zygote_fork(int zygote, int control);
#endif
