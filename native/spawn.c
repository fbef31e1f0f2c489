/*
 * libmcnative: the few calls Node makes through koffi that are clearer in C
 * than as raw syscalls from JavaScript.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
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

/*
 * mc_spawn from a thread of our own that lives as long as the process, for a
 * caller that must stay synchronous. PR_SET_PDEATHSIG fires when the child's
 * parent *thread* exits: spawned from a worker_thread's JavaScript thread, a
 * long-lived helper (the rootless keeper) would die when that worker ends.
 * The caller blocks until the spawn returned; spawns are handed over one at
 * a time. The thread blocks every signal, so none meant for Node lands on it.
 */
struct lasting_job {
  const char *path;
  char *const *argv, *const *envp;
  const int *fds;
  int nfds, new_session, result, done;
};

static pthread_mutex_t lasting_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lasting_cond = PTHREAD_COND_INITIALIZER;
static struct lasting_job *lasting_pending;
static int lasting_started;

static void *lasting_spawner(void *unused) {
  pthread_mutex_lock(&lasting_lock);
  for (;;) {
    while (!lasting_pending) pthread_cond_wait(&lasting_cond, &lasting_lock);
    struct lasting_job *job = lasting_pending;
    job->result = mc_spawn(job->path, job->argv, job->envp, job->fds, job->nfds, job->new_session);
    job->done = 1;
    lasting_pending = NULL;
    pthread_cond_broadcast(&lasting_cond);
  }
  return NULL;
}

/* Starts the spawner thread once (lasting_lock held). Returns 0 or -errno. */
static int lasting_start(void) {
  if (lasting_started) return 0;
  sigset_t all, old;
  pthread_attr_t attr;
  pthread_t thread;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old); /* the new thread inherits the mask */
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  int err = pthread_create(&thread, &attr, lasting_spawner, NULL);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (err) return -err;
  lasting_started = 1;
  return 0;
}

int mc_spawn_lasting(const char *path, char *const argv[], char *const envp[], const int *fds, int nfds, int new_session) {
  struct lasting_job job = {path, argv, envp, fds, nfds, new_session, 0, 0};
  pthread_mutex_lock(&lasting_lock);
  int err = lasting_start();
  if (err) {
    pthread_mutex_unlock(&lasting_lock);
    return err;
  }
  while (lasting_pending) pthread_cond_wait(&lasting_cond, &lasting_lock);
  lasting_pending = &job;
  pthread_cond_broadcast(&lasting_cond);
  while (!job.done) pthread_cond_wait(&lasting_cond, &lasting_lock);
  pthread_mutex_unlock(&lasting_lock);
  return job.result;
}
