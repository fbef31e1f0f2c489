#define _GNU_SOURCE
#include "report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int report_fd = -1;
static mc_failure_sink report_sink;
static int report_exit_code = 127;

void mc_report_to(mc_failure_sink sink, int exit_code) {
  report_sink = sink;
  report_exit_code = exit_code;
}

static void write_to_pipe(const struct mc_failure *f) {
  if (report_fd < 0) return;
  ssize_t ignored = write(report_fd, f, sizeof(*f));
  (void)ignored;
}

void mc_report_set_fd(int fd) {
  report_fd = fd;
  mc_report_to(write_to_pipe, 127);
}

void mc_fail(const char *step, int err, const char *fmt, ...) {
  struct mc_failure f;
  memset(&f, 0, sizeof(f));
  snprintf(f.step, sizeof(f.step), "%s", step);
  f.err = err;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(f.detail, sizeof(f.detail), fmt, ap);
  va_end(ap);
  if (report_sink) report_sink(&f);
  _exit(report_exit_code);
}

int mc_report_read(int fd, struct mc_failure *out) {
  size_t got = 0;
  while (got < sizeof(*out)) {
    ssize_t n = read(fd, (char *)out + got, sizeof(*out) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  if (got == 0) return 0;
  if (got < sizeof(*out)) {
    memset(out, 0, sizeof(*out));
    snprintf(out->step, sizeof(out->step), "report");
    out->err = EPROTO;
    snprintf(out->detail, sizeof(out->detail), "truncated failure record");
  }
  out->step[sizeof(out->step) - 1] = 0;
  out->detail[sizeof(out->detail) - 1] = 0;
  return 1;
}
