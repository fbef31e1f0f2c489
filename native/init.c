/*
 * A minimal PID 1, like `docker run --init`: it forwards signals to the
 * program and reaps every orphan that the pid namespace hands to it.
 * It is a fork of the already-set-up child, so nothing needs to exist in
 * the image for it to run.
 */
#define _GNU_SOURCE
#include "init.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process.h"
#include "report.h"

static int exit_code(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void mc_run_init(const struct mc_spec *spec, int report_fd) {
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);

  pid_t child = fork();
  if (child < 0) mc_fail("init fork", errno, "fork");
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    setsid();
    mc_exec(spec);
  }
  /* Only the program holds the report pipe now: its exec closes it. */
  close(report_fd);

  for (;;) {
    siginfo_t info;
    if (sigwaitinfo(&all, &info) < 0) continue;
    if (info.si_signo != SIGCHLD) {
      kill(child, info.si_signo);
      continue;
    }
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
      if (pid == child) _exit(exit_code(status));
  }
}
