/*
 * The shim's one error convention, in the manner of crun's libcrun_error_t:
 * every failure is an mc_failure (step, errno, detail) raised with
 * mc_fail(), which hands it to the current sink and exits. In the shim
 * itself the sink says it to Node as an "E" line; in the container's child
 * (set with mc_report_set_fd) the sink writes the record to a close-on-exec
 * pipe, which a successful execve() closes with nothing written, and the
 * shim relays it. Node raises a precise StartError (which step, which errno,
 * which path) either way.
 *
 * libmcnative (fsops.c, spawn.c), called through koffi, is not the shim: it
 * never exits and returns -errno like the raw system calls it wraps.
 */
#ifndef MC_REPORT_H
#define MC_REPORT_H

struct mc_failure {
  char step[32];
  int err;
  char detail[1024];
};

/* Where mc_fail() sends a failure before exiting with `exit_code`. */
typedef void (*mc_failure_sink)(const struct mc_failure *failure);
void mc_report_to(mc_failure_sink sink, int exit_code);

/* In a child: failures go to this pipe, and the child exits with 127. */
void mc_report_set_fd(int fd);

/* Records the failing step and exits the child; never returns. */
__attribute__((noreturn, format(printf, 3, 4))) void mc_fail(const char *step, int err, const char *fmt, ...);

/* Reads a failure record; returns 1 when one was read, 0 on a clean EOF. */
int mc_report_read(int fd, struct mc_failure *out);

#endif
