/*
 * A container dies with the Node process that owns it, within milliseconds,
 * and nothing of it runs on.
 *
 * The chain is owner -> shim -> container. The shim kills the container's
 * pid 1 (which takes its whole pid namespace with it) as soon as it learns
 * that the owner is dying, then reaps it as for any exit, and only then lets
 * go of the container's mount namespace. Were the shim to die of SIGKILL
 * instead, the container would die of its own PDEATHSIG holding the last
 * reference to that namespace, and unmount everything in its exit path:
 * unmounting an overlay syncs the host filesystem under it, hundreds of
 * milliseconds under load.
 *
 * Learning early is the hard part. PR_SET_PDEATHSIG (SIGTERM here) fires
 * when Node's main thread exits, which under load can be 100 ms after the
 * SIGKILL: the thread may be in an uninterruptible syscall (rtnetlink waiting
 * for an RCU grace period) or be the last thread out, which tears down Node's
 * whole address space first. So the shim also watches every thread of the
 * owner (pidfds with PIDFD_THREAD, Linux 6.9+) and wakes when the first one
 * exits; a thread exiting on its own (a finished worker_thread) is told apart
 * from the process dying by the owner's pending SIGKILL or exit state.
 *
 * The container's own PDEATHSIG (SIGKILL when the shim dies) stays as the
 * backstop for a shim killed outright.
 */
#define _GNU_SOURCE
#include "owner.h"
#include <linux/sched.h>
#include <stdint.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "priority.h"
#include "report.h"
#include "steps.h"

#define PIDFD_THREAD_FLAG O_EXCL /* PIDFD_THREAD, Linux 6.9 */

static pid_t owner_pid;
/* A pidfd, not a pid: the handler can never hit a reused pid after the container is reaped. */
static volatile sig_atomic_t container_fd = -1;
static pid_t container_pid;
/* mc_owner_watch() was called: the container is owned, not detached. */
static int watch_requested;

/* Written by the signal handler too: plain stores of values read only after the watcher is joined. */
static volatile long long notified_ns, killed_ns, exited_ns;

/*
 * mc_hasten (priority.h): the nice only counts within the task's own cgroup, so it helps the watcher
 * (in its owner's cgroup), not a container's pid 1 (alone in its own): measured, under load 10 pid 1
 * still waited 5-13 ms at nice -20, where SCHED_FIFO cut a dying process's p99 from 11 to 2 ms.
 */
/*
 * `at`: when the shim learnt of the owner's death (the first time counts).
 * Once its SIGKILL is pending, pid 1 never runs its own code again, only its
 * exit in the kernel: so it gets to run that at once, ahead of the load, as
 * the OOM killer once did for its victims. It is our unreaped child, so its
 * pid cannot name another process. Its other processes and threads exit at
 * their own priority (pid 1 waits for them in its exit).
 */
static void kill_container(long long at) {
  syscall(SYS_pidfd_send_signal, (int)container_fd, SIGKILL, NULL, 0);
  if (notified_ns) return;
  notified_ns = at;
  killed_ns = mc_monotonic_ns();
  mc_hasten(container_pid);
}

static void on_owner_gone(int sig) {
  (void)sig;
  if (container_fd < 0) _exit(1);
  kill_container(mc_monotonic_ns());
}

void mc_owner_watch(pid_t owner) {
  struct sigaction sa = {.sa_handler = on_owner_gone}; /* no SA_RESTART: blocking calls return EINTR */
  sigfillset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  /* The owner may have died before the prctl (man 2 prctl). Not "== 1": a subreaper may have adopted us. */
  if (getppid() != owner) _exit(1);
  owner_pid = owner;
  watch_requested = 1;
}

/* True when the process behind `pidfd` has exited. */
static int has_exited(int pidfd) {
  struct pollfd p = {.fd = pidfd, .events = POLLIN};
  return poll(&p, 1, 0) > 0;
}

static void tie_child_to_shim(int shim_fd, const sigset_t *mask) {
  signal(SIGTERM, SIG_DFL);
  sigprocmask(SIG_SETMASK, mask, NULL);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /*
   * getppid() is 0 in a new pid namespace, so ask the shim's pidfd whether it
   * died before the prctl. kill(0, 0) (no signal is sent) takes the tasklist
   * lock that the dying shim holds while it reads our PDEATHSIG and marks
   * itself exited: after it, one of the two has certainly seen the other.
   */
  kill(0, 0);
  if (has_exited(shim_fd)) _exit(1);
  close(shim_fd);
}

/* clone3 into `cgroup_fd` (CLONE_INTO_CGROUP), falling back to a raw clone(); -1 for no cgroup. */
static pid_t clone_raw(unsigned long flags, int cgroup_fd, int *born) {
  *born = 0;
  if (cgroup_fd >= 0) {
    struct clone_args args = {.flags = flags | CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = (uint64_t)cgroup_fd};
    pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
    if (pid >= 0) return *born = 1, pid;
  }
  /* A raw clone is fork() with namespaces: the child continues right here. */
  return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0);
}

pid_t mc_owner_clone(unsigned long flags, int cgroup_fd, int *born) {
  int self = (int)syscall(SYS_pidfd_open, getpid(), 0);
  if (self < 0) mc_fail("pidfd_open", errno, "shim");
  sigset_t term, mask;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  /* An owner dying during the clone is handled once container_fd is known. */
  sigprocmask(SIG_BLOCK, &term, &mask);
  pid_t pid = clone_raw(flags, cgroup_fd, born);
  if (pid == 0) {
    tie_child_to_shim(self, &mask);
    return 0;
  }
  int saved = errno;
  close(self);
  /* Our unreaped child: its pid cannot be reused under us. */
  if (pid > 0) {
    container_pid = pid;
    container_fd = (int)syscall(SYS_pidfd_open, pid, 0);
  }
  sigprocmask(SIG_SETMASK, &mask, NULL);
  errno = saved;
  return pid;
}

/* Whether the owner is on its way out: a fatal signal pending (SIGKILL is queued to every thread), exiting, or gone. */
static int owner_dying(void) {
  char path[64], buf[2048];
  snprintf(path, sizeof(path), "/proc/%d/status", (int)owner_pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 1;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return 1;
  buf[n] = 0;
  const char *state = strstr(buf, "\nState:\t");
  if (!state || state[8] == 'Z' || state[8] == 'X') return 1;
  const char *pending = strstr(buf, "\nSigPnd:\t");
  unsigned long long set = pending ? strtoull(pending + 9, NULL, 16) : 0;
  if (set & (1ULL << (SIGKILL - 1))) return 1;
  /* PF_EXITING (field 9 of stat): SIGKILL already taken, do_exit() under way. */
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)owner_pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 1;
  n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return 1;
  buf[n] = 0;
  unsigned long flags = 0;
  const char *after = strrchr(buf, ')');
  if (after) sscanf(after + 2, "%*c %*d %*d %*d %*d %*d %lu", &flags);
  return (flags & 0x4) != 0;
}

/* pidfds of the owner's threads (Linux 6.9+; none before: PDEATHSIG alone). Returns how many. */
static int owner_thread_fds(struct pollfd *fds, int max) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/task", (int)owner_pid);
  DIR *dir = opendir(path);
  if (!dir) return 0;
  int n = 0;
  struct dirent *e;
  while (n < max && (e = readdir(dir))) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    int fd = (int)syscall(SYS_pidfd_open, atoi(e->d_name), PIDFD_THREAD_FLAG);
    if (fd >= 0) fds[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
    else if (errno != ESRCH) break; /* EINVAL before 6.9; ESRCH: that thread just exited */
  }
  closedir(dir);
  return n;
}

/*
 * What the watcher polls: the container's pidfd (fds[0], once it exists)
 * and the owner's threads, whose pidfds mc_owner_prepare() opened.
 */
static struct pollfd watched[1 + MC_OWNER_MAX_THREADS];
static int nwatched = 1;
static pthread_t watcher;
static int watching;

void mc_owner_prepare(pid_t owner) {
  owner_pid = owner;
  nwatched = 1 + owner_thread_fds(watched + 1, MC_OWNER_MAX_THREADS);
}

/*
 * The watcher: polls the container's pidfd and the owner's threads. It only
 * ever blocks in poll, reads the owner's /proc status when one of its
 * threads exits, and kills: at real-time priority that costs the machine
 * nothing, and the first exiting thread wakes it without waiting for a CPU.
 * A thread that exited since mc_owner_prepare() has its pidfd readable at
 * the first poll. It ends when the container has exited, stamping the moment.
 */
static void *watch(void *realtime) {
  if (!realtime) setpriority(PRIO_PROCESS, 0, -20);
  struct pollfd *fds = watched;
  int n = nwatched;
  while (!(fds[0].revents & POLLIN)) {
    if (poll(fds, (nfds_t)n, -1) < 0) continue; /* EINTR: PDEATHSIG's handler may have killed it */
    long long woken = mc_monotonic_ns();
    for (int i = 1; i < n; i++) {
      if (!(fds[i].revents & POLLIN)) continue;
      close(fds[i].fd);
      fds[i].fd = -1; /* poll skips it */
      if (!notified_ns && owner_dying()) kill_container(woken);
    }
  }
  exited_ns = mc_monotonic_ns();
  return NULL;
}

/*
 * The watcher is born with its policy (see mc_hasten()), never a moment without
 * it: SCHED_FIFO set in its attributes, or, where the host refuses it (EPERM:
 * a cgroup v1 without a real-time budget), an ordinary thread that takes nice
 * -20 as its first step.
 */
static int start_watcher(int realtime) {
  if (!realtime) return pthread_create(&watcher, NULL, watch, NULL);
  pthread_attr_t attr;
  struct sched_param p = {.sched_priority = 1};
  pthread_attr_init(&attr);
  pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
  pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
  pthread_attr_setschedparam(&attr, &p);
  int err = pthread_create(&watcher, &attr, watch, (void *)1);
  pthread_attr_destroy(&attr);
  return err;
}

/* The owner's threads are watched no more: closes their pidfds. */
static void release_threads(void) {
  for (int i = 1; i < nwatched; i++)
    if (watched[i].fd >= 0) close(watched[i].fd);
  nwatched = 1;
}

void mc_owner_guard(void) {
  /* Detached, or nothing to guard: the owner's threads are nothing to this shim. */
  if (!owner_pid || !watch_requested || container_fd < 0) {
    release_threads();
    return;
  }
  watched[0] = (struct pollfd){.fd = (int)container_fd, .events = POLLIN};
  /* Without a thread (ENOMEM, EAGAIN) PDEATHSIG alone still kills the container. */
  watching = start_watcher(1) == 0 || start_watcher(0) == 0;
}

void mc_owner_unguard(struct mc_owner_times *out) {
  if (watching) pthread_join(watcher, NULL);
  watching = 0;
  release_threads();
  out->notified = notified_ns;
  out->killed = killed_ns;
  out->exited = exited_ns;
}

int mc_owner_container_fd(void) {
  return (int)container_fd;
}
