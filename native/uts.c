#define _GNU_SOURCE
#include "uts.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "report.h"

/* The name mc_preset_uts set, and the one the clone copied from the host before it; unset without a preset. */
static struct utsname before;
static char preset[sizeof(before.nodename)];
static int has_preset;

void mc_preset_uts(const struct mc_spec *s) {
  if (!s->hostname || strlen(s->hostname) >= sizeof(preset) || uname(&before) < 0) return;
  if (sethostname(s->hostname, strlen(s->hostname)) < 0) return;
  snprintf(preset, sizeof(preset), "%s", s->hostname);
  has_preset = 1;
}

void mc_setup_uts(const struct mc_spec *s) {
  /* A claim without a name puts back the host's, as an unclaimed start leaves it. */
  const char *name = s->hostname ? s->hostname : has_preset ? before.nodename : NULL;
  if (!name || (has_preset && !strcmp(name, preset))) return;
  if (sethostname(name, strlen(name)) < 0) mc_fail("sethostname", errno, "%s", name);
}
