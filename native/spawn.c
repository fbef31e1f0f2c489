/*
 * libmcnative: the few calls Node makes through koffi that are clearer in C
 * than as raw syscalls from JavaScript.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>

/*
 * posix_spawn (vfork speed, no copy of Node's address space) with fds[i]
 * becoming fd i in the child, every signal reset to its default (Node
 * ignores SIGPIPE, and ignored signals survive execve), and optionally a new
 * session so the child survives its parent's terminal.
 * Returns the pid, or -errno.
 */
int mc_spawn(const char *path, char *const argv[], char *const envp[], const int *fds, int nfds, int new_session) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  sigset_t all, none;
  pid_t pid = -1;
  int err;

  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  for (int i = 0; i < nfds; i++)
    if (fds[i] >= 0) posix_spawn_file_actions_adddup2(&actions, fds[i], i);
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | (new_session ? POSIX_SPAWN_SETSID : 0));
  err = posix_spawn(&pid, path, &actions, &attr, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return err ? -err : pid;
}
