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
 * The zygote's loop (argv: mc-shim zygote <owner> <protocol>): for each fork request (a byte and Node's
 * umask, with fds attached: 'F' and a control socket for a run shim, 'B' the same for a "bare" run shim
 * (one that makes no warm network namespace: its start brings its own), 'E' and a control socket, stdin,
 * stdout and stderr for an exec shim), a shim that is Node's child (CLONE_PARENT). Returns only in such a
 * child, its mode ("run", "run-bare" or "exec"), with that socket as `control_fd`, the passed stdio (an exec
 * shim's) as 0-2, no other fd, the umask sent, and argv reading "mc-shim <mode> <owner>"; the zygote itself exits
 * when Node closes its socket or dies.
 */
const char *mc_zygote(pid_t owner, char **argv, int control_fd);

/*
 * Node's side, once per zygote before its first fork: bounds the wait for each answer on `zygote` (2 s,
 * SO_RCVTIMEO) and opens /proc/self/status, which every fork reads Node's umask from, if no zygote did.
 * 0 or -errno.
 */
int mc_zygote_attach(int zygote);

/*
 * Node's side: asks the zygote for a shim whose fd 3 is fds[0]: a run shim when nfds is 1, an exec
 * shim whose stdio are fds[1..3] when nfds is 4. Its pid, or -errno (-ETIMEDOUT: no answer in 2 s).
 * A run shim made so makes a warm network namespace.
 */
int mc_zygote_fork(int zygote, const int *fds, int nfds);

/*
 * Node's side, for a burst: `count` requests as mc_zygote_fork's, each with nfds fds (fds holds count * nfds),
 * sent at once and answered in order; pids[i] is the i-th shim's pid or -errno. A request not sent, or that
 * failed (its fork, or its answer lost: a timeout, the zygote gone), and every one after it, carry that
 * error (answers past a failure are not read: the caller stops the zygote). `bare` (run shims, may be NULL):
 * bare[i] nonzero asks for a bare run shim ('B'). 0, or -EINVAL.
 */
int mc_zygote_fork_many(int zygote, const int *fds, int nfds, int count, const int *bare, int32_t *pids);

/*
 * Node's side, once the zygote behind `zygote` is dead (killed and reaped: no fork comes after): the
 * pids of the answers left unread on its socket, at most `max` into `pids`; how many. Those are shims
 * forked for requests that had given up (an answer after the 2 s bound, or past a batch's failure):
 * Node's children that no one else knows of, to be killed and reaped.
 */
int mc_zygote_unclaimed(int zygote, int32_t *pids, int max);
#endif
