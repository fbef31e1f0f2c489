#define _GNU_SOURCE
#include "priority.h"

#include <sched.h>
#include <sys/resource.h>

/* What mc_hasten(0) changed: 1 the policy, 2 the nice (whose value before is `nice_before`), 0 nothing. */
static int changed;
static int nice_before;

void mc_hasten(pid_t pid) {
  /* Reset on fork: nothing the thread starts inherits it. */
  struct sched_param p = {.sched_priority = 1};
  if (sched_setscheduler(pid, SCHED_FIFO | SCHED_RESET_ON_FORK, &p) == 0) {
    if (pid == 0) changed = 1;
    return;
  }
  int before = getpriority(PRIO_PROCESS, (id_t)pid);
  if (setpriority(PRIO_PROCESS, (id_t)pid, -20) == 0 && pid == 0) changed = 2, nice_before = before;
}

void mc_unhasten(void) {
  struct sched_param p = {.sched_priority = 0};
  if (changed == 1) sched_setscheduler(0, SCHED_OTHER, &p);
  if (changed == 2) setpriority(PRIO_PROCESS, 0, nice_before);
  changed = 0;
}
