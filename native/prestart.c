/* A pre-started container: ready, then claimed with its process (prestart.h). */
#define _GNU_SOURCE
#include "prestart.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "process.h"
#include "report.h"
#include "uts.h"

static int ready_pipe[2] = {-1, -1};
static int control = -1;

void mc_prestart_open(void) {
  if (pipe2(ready_pipe, O_CLOEXEC) < 0) mc_fail("pipe", errno, "prestart ready pipe");
}

void mc_prestart_child_begin(int fd) {
  close(ready_pipe[0]);
  control = fd;
}

void mc_prestart_await_claim(struct mc_spec *spec, int root_final) {
  if (control < 0) return; /* claimed already (at its network's join) */
  /* While nobody waits: what depends on the container alone, or on what its claim most likely brings (uts.h, process.h). */
  mc_probe_capabilities();
  mc_preset_uts(spec);
  if (root_final) mc_warm_exec(spec);
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
