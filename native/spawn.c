/*
 * libmcnative: the few calls Node makes through koffi that are clearer in C
 * than as raw syscalls from JavaScript.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Linux 5.3, 5.4 and 5.1, the same number on every architecture; headers older than the kernel may lack them. */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

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
 *
 * The same thread reaps the children handed to it (mc_lasting_adopt): a
 * helper started by a worker_thread that has ended since (a port relay, an
 * egress helper) would otherwise stay a zombie of the process for good, no
 * event loop left to see it end. It waits in poll() on their pidfds and on
 * an eventfd that says a spawn or an adoption is waiting.
 */
struct lasting_job {
  const char *path;
  char *const *argv, *const *envp;
  const int *fds;
  int nfds, new_session, result, done;
};

/*
 * A child the lasting thread reaps: `held` (our end of its control socket, or -1) is closed with it, and
 * so is `watch` (the write end of a pipe whose read end mc_lasting_watch gave Node, or -1).
 */
struct adopted_child {
  int token, pidfd, held, watch;
};

static pthread_mutex_t lasting_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lasting_cond = PTHREAD_COND_INITIALIZER;
static struct lasting_job *lasting_pending;
static int lasting_started, lasting_wake = -1;
static struct adopted_child *adopted;
static int adopted_count, adopted_room, last_token;

static void lasting_wake_up(void) {
  uint64_t one = 1;
  (void)!write(lasting_wake, &one, sizeof(one));
}

/* Reaps the adopted child behind `pidfd`, which polled readable: it ended (lasting_lock held). */
static void lasting_reap(int pidfd) {
  for (int i = 0; i < adopted_count; i++) {
    if (adopted[i].pidfd != pidfd) continue;
    /* By its pidfd, not its pid: one reaped elsewhere (ECHILD) may have left its pid to a new child of ours. */
    siginfo_t info;
    info.si_pid = 0;
    if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED | WNOHANG) == 0 && info.si_pid == 0) return;
    close(adopted[i].pidfd);
    if (adopted[i].held >= 0) close(adopted[i].held);
    if (adopted[i].watch >= 0) close(adopted[i].watch);
    adopted[i] = adopted[--adopted_count];
    return;
  }
}

/* The poll set: the eventfd, then each adopted child's pidfd (lasting_lock held). Its length, at least 1. */
static int lasting_poll_set(struct pollfd **set, int *room) {
  if (*room < adopted_count + 1) {
    struct pollfd *bigger = realloc(*set, sizeof(**set) * (adopted_count + 1));
    if (bigger) {
      *set = bigger;
      *room = adopted_count + 1;
    }
  }
  int n = *room < adopted_count + 1 ? *room : adopted_count + 1;
  (*set)[0] = (struct pollfd){.fd = lasting_wake, .events = POLLIN};
  for (int i = 1; i < n; i++) (*set)[i] = (struct pollfd){.fd = adopted[i - 1].pidfd, .events = POLLIN};
  return n;
}

static void *lasting_spawner(void *unused) {
  struct pollfd *set = NULL;
  int room = 0;
  pthread_mutex_lock(&lasting_lock);
  for (;;) {
    struct lasting_job *job = lasting_pending;
    if (job) {
      job->result = mc_spawn(job->path, job->argv, job->envp, job->fds, job->nfds, job->new_session);
      job->done = 1;
      lasting_pending = NULL;
      pthread_cond_broadcast(&lasting_cond);
    }
    int n = lasting_poll_set(&set, &room);
    if (!set) {
      /* No memory for even the eventfd's entry: wait for a spawn as before, retrying the set then. */
      pthread_cond_wait(&lasting_cond, &lasting_lock);
      continue;
    }
    /* Only this thread closes the polled fds, so they stay valid unlocked. */
    pthread_mutex_unlock(&lasting_lock);
    int ready = poll(set, n, -1);
    uint64_t count;
    if (ready > 0 && set[0].revents) (void)!read(lasting_wake, &count, sizeof(count));
    pthread_mutex_lock(&lasting_lock);
    for (int i = 1; ready > 0 && i < n; i++)
      if (set[i].revents) lasting_reap(set[i].fd);
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
  if (lasting_wake < 0) lasting_wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (lasting_wake < 0) return -errno;
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
  lasting_wake_up();
  while (!job.done) pthread_cond_wait(&lasting_cond, &lasting_lock);
  pthread_mutex_unlock(&lasting_lock);
  return job.result;
}

/*
 * Hands child `pid` (unreaped) to the lasting thread, which reaps it once it ended, from whichever
 * thread: the caller must no longer wait for it by its pid. `held` (or -1) is given too, closed then;
 * until then mc_lasting_end is how it is let go. Returns a token for mc_lasting_end, or -errno.
 */
int mc_lasting_adopt(int pid, int held) {
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) return -errno;
  pthread_mutex_lock(&lasting_lock);
  int err = lasting_start();
  if (!err && adopted_count == adopted_room) {
    int room = adopted_room ? adopted_room * 2 : 16;
    struct adopted_child *bigger = realloc(adopted, sizeof(*adopted) * room);
    if (bigger) {
      adopted = bigger;
      adopted_room = room;
    } else {
      err = -ENOMEM;
    }
  }
  if (err) {
    pthread_mutex_unlock(&lasting_lock);
    close(pidfd);
    return err;
  }
  int token = ++last_token;
  adopted[adopted_count++] = (struct adopted_child){token, pidfd, held, -1};
  pthread_cond_broadcast(&lasting_cond);
  lasting_wake_up();
  pthread_mutex_unlock(&lasting_lock);
  return token;
}

/*
 * Lets the adopted child of `token` go: signal `sig` (0: none) sent through its pidfd, so never to
 * another process that took its pid, and its held socket shut down for writing (its end reads EOF,
 * as if we closed it, while ours still reads EOF only once it closed its end, when it exits; the fd
 * itself is closed when the child is reaped). Returns 0, or -ESRCH when it was reaped already.
 */
int mc_lasting_end(int token, int sig) {
  int err = -ESRCH;
  pthread_mutex_lock(&lasting_lock);
  for (int i = 0; i < adopted_count; i++) {
    if (adopted[i].token != token) continue;
    if (sig) syscall(SYS_pidfd_send_signal, adopted[i].pidfd, sig, NULL, 0);
    if (adopted[i].held >= 0) shutdown(adopted[i].held, SHUT_WR);
    err = 0;
    break;
  }
  pthread_mutex_unlock(&lasting_lock);
  return err;
}

/*
 * A pipe's read end that reads EOF once the adopted child of `token` was reaped (its write end is closed
 * then), for an event loop to wait on instead of asking mc_lasting_reaped again and again; -ESRCH when it
 * was reaped already (tokens are never reused), or -errno. One watch per child (Node shares it): a second
 * replaces the first, whose reader then reads EOF at once.
 */
int mc_lasting_watch(int token) {
  int ends[2];
  if (pipe2(ends, O_CLOEXEC) < 0) return -errno;
  pthread_mutex_lock(&lasting_lock);
  int found = 0;
  for (int i = 0; i < adopted_count; i++) {
    if (adopted[i].token != token) continue;
    if (adopted[i].watch >= 0) close(adopted[i].watch);
    adopted[i].watch = ends[1];
    found = 1;
    break;
  }
  pthread_mutex_unlock(&lasting_lock);
  if (found) return ends[0];
  close(ends[0]);
  close(ends[1]);
  return -ESRCH;
}

/*
 * Whether the adopted child of `token` was reaped (1) or is still the lasting thread's to reap (0).
 * Tokens are never reused, so one not found was reaped.
 */
int mc_lasting_reaped(int token) {
  int reaped = 1;
  pthread_mutex_lock(&lasting_lock);
  for (int i = 0; i < adopted_count && reaped; i++)
    if (adopted[i].token == token) reaped = 0;
  pthread_mutex_unlock(&lasting_lock);
  return reaped;
}
