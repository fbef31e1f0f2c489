#define _GNU_SOURCE
#include "steps.h"

#include <stdio.h>
#include <sys/mman.h>
#include <time.h>

static long long *stamps;

long long mc_monotonic_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

void mc_steps_init(void) {
  void *page = mmap(NULL, sizeof(long long) * MC_STEP_COUNT, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (page != MAP_FAILED) stamps = page;
}

void mc_step(enum mc_step step) {
  if (stamps) stamps[step] = mc_monotonic_ns();
}

void mc_steps_line(char *buf, unsigned long len) {
  int n = snprintf(buf, len, "T");
  for (int i = 0; i < MC_STEP_COUNT && n > 0 && (unsigned long)n < len; i++)
    n += snprintf(buf + n, len - (unsigned long)n, " %lld", stamps ? stamps[i] : 0LL);
  if (n > 0 && (unsigned long)n < len) snprintf(buf + n, len - (unsigned long)n, "\n");
}
