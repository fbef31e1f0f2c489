/* A pre-started container: ready, then claimed with its process (prestart.h). */
#define _GNU_SOURCE
#include "prestart.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "report.h"

static int ready_pipe[2] = {-1, -1};
static int control = -1;

void mc_prestart_open(void) {
  if (pipe2(ready_pipe, O_CLOEXEC) < 0) mc_fail("pipe", errno, "prestart ready pipe");
}

void mc_prestart_child_begin(int fd) {
  close(ready_pipe[0]);
  control = fd;
}

void mc_prestart_await_claim(struct mc_spec *spec) {
  if (control < 0) return; /* claimed already (at its network's join) */
  char ready = 'R';
  if (write(ready_pipe[1], &ready, 1) != 1) mc_fail("prestart", errno, "ready pipe");
  close(ready_pipe[1]);
  mc_spec_read_process(control, spec);
  close(control);
  control = -1;
}

int mc_prestart_ready(void) {
  close(ready_pipe[1]);
  char ready;
  ssize_t n;
  while ((n = read(ready_pipe[0], &ready, 1)) < 0 && errno == EINTR) {
  }
  close(ready_pipe[0]);
  return n == 1;
}
