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

/*
 * The thread comes from libuv (Node's own, resolved in the process that loads us), not from
 * pthread_create directly: glibc 2.34 gave pthread_create and pthread_attr_setstacksize new symbol
 * versions, and the prebuilt library must load on glibc 2.17 (glibc-baseline.h).
 */
typedef pthread_t uv_thread_t;
typedef struct {
  unsigned int flags;
  size_t stack_size;
} uv_thread_options_t;
#define UV_THREAD_HAS_STACK_SIZE 1
/* Weak: a program that is not Node (the C harness of the prebuilt test) still loads the library, and gets ENOSYS here. */
int uv_thread_create_ex(uv_thread_t *tid, const uv_thread_options_t *params, void (*entry)(void *arg), void *arg) __attribute__((weak));

static void lasting_entry(void *unused) { lasting_spawner(unused); }

/* Starts the spawner thread once (lasting_lock held). Returns 0 or -errno. */
static int lasting_start(void) {
  if (lasting_started) return 0;
  if (!uv_thread_create_ex) return -ENOSYS;
  sigset_t all, old;
  uv_thread_t thread;
  uv_thread_options_t options = {UV_THREAD_HAS_STACK_SIZE, 64 * 1024};
  sigfillset(&all);
  /* The new thread inherits the mask (sigprocmask acts on the calling thread alone, as pthread_sigmask). */
  sigprocmask(SIG_SETMASK, &all, &old);
  int err = uv_thread_create_ex(&thread, &options, lasting_entry, NULL);
  sigprocmask(SIG_SETMASK, &old, NULL);
  if (err) return err < 0 ? err : -err;
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
