/*
 * Real-time priority for the moments a wait is on someone's path (priority.c). SCHED_FIFO priority 1
 * (below every real-time kernel thread), or, where the host refuses it (a cgroup v1 without a
 * real-time budget), the highest nice: a woken thread of ours then runs at once rather than after
 * whatever holds its CPU, which on a loaded host is milliseconds.
 */
#ifndef MC_PRIORITY_H
#define MC_PRIORITY_H

#include <sys/types.h>

/* `pid` (0: the calling thread) at that priority, best effort. */
void mc_hasten(pid_t pid);
/* The calling thread, hastened by mc_hasten(0), back to the policy and nice it had; best effort. */
void mc_unhasten(void);

#endif
