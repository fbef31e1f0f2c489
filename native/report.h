/*
 * How the code running in the child tells the shim what failed.
 *
 * The child writes one struct mc_failure to a close-on-exec pipe and exits;
 * a successful execve() closes the pipe with nothing written. The shim turns
 * the record into an "E" line for Node, which raises a precise error
 * (which step, which errno, which path).
 */
#ifndef MC_REPORT_H
#define MC_REPORT_H

struct mc_failure {
  char step[32];
  int err;
  char detail[1024];
};

/* Set once per child: the pipe fail() writes to. */
void mc_report_set_fd(int fd);

/* Records the failing step and exits the child; never returns. */
__attribute__((noreturn, format(printf, 3, 4))) void mc_fail(const char *step, int err, const char *fmt, ...);

/* Reads a failure record; returns 1 when one was read, 0 on a clean EOF. */
int mc_report_read(int fd, struct mc_failure *out);

#endif
