/*
 * mc-shim: the per-container monitor, like conmon or containerd-shim.
 *
 * Node cannot fork a child that runs code before execve (it is
 * multi-threaded and no JavaScript may run there), so it posix_spawns this
 * small single-threaded program instead:
 *
 *   mc-shim run <owner pid>   clone() the container with new namespaces, set it up, exec
 *   mc-shim exec              join a running container's namespaces, fork, exec
 *   mc-shim dump-spec         print the decoded spec as JSON (tests only: spec-dump.c)
 *   mc-shim probe-userns      try a user namespace, a mount and an overlay in it (probe.c; Runtime.preflight)
 *   mc-shim netns-sockets     send Node netlink sockets opened in another network namespace (netns-sockets.c)
 *   mc-shim relay             a published port's relay into a rootless network namespace (relay.c)
 *   mc-shim keeper <owner>    hold a rootless runtime's mapped user namespace (keeper.c; its own protocol on fd 3)
 *   mc-shim zygote <owner> <protocol>   fork `run` and `exec` shims for Node on request (zygote.c; its own protocol on fd 4)
 *
 * fd 3 is a socket to Node. Node writes the spec (spec.h); the shim answers
 * with lines:
 *   S <pid>                       the program is running (execve succeeded)
 *   E <step>\t<errno>\t<detail>   setup failed at <step>
 *   X <exit code> <signal>        the program ended
 * The shim outlives Node when the container is detached, so it also records
 * the exit status in a file that any later process can read. For `run` it
 * also owns the program's stdout and stderr pipes and writes the container's
 * log (logger.h), so output is stamped and kept while nobody reads it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "fds.h"
#include "init.h"
#include "keeper.h"
#include "linux.h"
#include "logger.h"
#include "owner.h"
#include "netns-late.h"
#include "prestart.h"
#include "priority.h"
#include "netns-sockets.h"
#include "netns-warm.h"
#include "old-root.h"
#include "probe.h"
#include "relay.h"
#include "process.h"
#include "report.h"
#include "spec.h"
#include "steps.h"
#include "userns.h"
#include "uts.h"
#include "zygote.h"

#define CONTROL_FD 3

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  char line[1200];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  if (n > (int)sizeof(line) - 1) n = sizeof(line) - 1;
  /* Node may be gone (detached containers): never die of SIGPIPE. */
  ssize_t ignored = send(CONTROL_FD, line, (size_t)n, MSG_NOSIGNAL);
  (void)ignored;
}

static void say_failure(const struct mc_failure *f) {
  char detail[sizeof(f->detail)];
  snprintf(detail, sizeof(detail), "%s", f->detail);
  for (char *p = detail; *p; p++)
    if (*p == '\n' || *p == '\t') *p = ' ';
  say("E %s\t%d\t%s\n", f->step, f->err, detail);
}

/* The shim's own failures: said to Node, and the old root's helper ended with us, not left an orphan. */
static void fail_shim(const struct mc_failure *f) {
  say_failure(f);
  mc_old_root_end();
}

/*
 * "<code> <signal> <realtime ms>" (FinishedAt), then the steps of the end in
 * CLOCK_MONOTONIC ns, 0 for a step that did not happen: the owner's death
 * noticed, the SIGKILL sent, the exit seen (owner.h), the program reaped.
 */
static void record_exit(const char *path, int code, int sig, const struct mc_owner_times *t, long long reaped) {
  if (!path || !*path) return;
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  dprintf(fd, "%d %d %lld%03ld %lld %lld %lld %lld\n", code, sig, (long long)now.tv_sec, now.tv_nsec / 1000000,
          t->notified, t->killed, t->exited, reaped);
  close(fd);
  rename(tmp, path);
}

/*
 * One poll until the program exits: its exit and its output (when `log`).
 * The log is complete before anyone hears of the exit, so logs() after
 * wait() has everything. Returns when the exit was seen (CLOCK_MONOTONIC ns).
 */
static long long await_exit(pid_t pid, struct mc_log *log) {
  struct pollfd fds[4];
  /* The watcher's pidfd of the container, polled by both threads; exec's program has none yet. */
  int own = mc_owner_container_fd() < 0;
  fds[0] = (struct pollfd){.fd = own ? (int)syscall(SYS_pidfd_open, pid, 0) : mc_owner_container_fd(), .events = POLLIN};
  int nlog = log ? 2 : 0;
  if (log) mc_log_fds(log, fds + 1);
  /* The old root's helper, reaped as it ends (a few ms after the start), not at the program's exit. */
  struct pollfd *helper = &fds[1 + nlog];
  *helper = (struct pollfd){.fd = mc_old_root_helper_fd(), .events = POLLIN};
  /* Without a pidfd (it cannot fail on 5.8+, but) the pipes' EOF tells instead: waitpid below then returns soon. */
  while (!(fds[0].revents & POLLIN) && (fds[0].fd >= 0 || (nlog && (fds[1].fd >= 0 || fds[2].fd >= 0)))) {
    if (poll(fds, (nfds_t)(2 + nlog), -1) < 0) continue; /* EINTR: PDEATHSIG's handler may have killed it */
    /* Hastened since the start (run()), until the program's first output: a chatty program's log is written at the ordinary priority. */
    if (nlog && ((fds[1].revents | fds[2].revents) & POLLIN)) mc_unhasten();
    if (log) mc_log_events(log, fds + 1);
    if (helper->fd >= 0 && helper->revents) {
      mc_old_root_reap(0);
      helper->fd = -1;
    }
  }
  long long exited = mc_monotonic_ns();
  if (own && fds[0].fd >= 0) close(fds[0].fd);
  if (log) mc_log_finish(log);
  return exited;
}

/*
 * Holds the container's mount namespace (returns its fd): when PID 1 exits, tearing down its
 * mounts (an RCU grace period) would otherwise delay the exit we report. The teardown happens
 * when we exit, after Node has been told.
 */
static int hold_mounts(pid_t pid) {
  char ns_path[64];
  snprintf(ns_path, sizeof(ns_path), "/proc/%d/ns/mnt", pid);
  return open(ns_path, O_RDONLY | O_CLOEXEC);
}

/*
 * Waits for the program (logging its output, when `log`), records and reports how it ended, and
 * exits. `mnt_ns`: hold_mounts()'s fd; `oom_fd`: mc_cgroup_oom_open()'s (-1: none); the owner's
 * guard (mc_owner_guard) is up already.
 */
static __attribute__((noreturn)) void monitor(pid_t pid, const struct mc_spec *spec, struct mc_log *log, int mnt_ns, int oom_fd) {
  long long exited = await_exit(pid, log);
  /* How it ended, read without reaping it: its release (its pid namespace's end with it) comes after Node is told. */
  siginfo_t info = {0};
  while (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
  }
  int killed = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
  int code = killed ? 128 + info.si_status : info.si_status;
  int sig = killed ? info.si_status : 0;
  /* Counted before the victim exits; read here, in the shim, rather than on Node's event loop. */
  long long oom_kills = mc_cgroup_oom_kills(oom_fd);
  /* Node first: it is waiting; the watcher's end (a short program's may come before its start) and the file are not its business. */
  say("X %d %d %lld %lld\n", code, sig, exited, oom_kills);
  /* The rest (the reap, the exit file, the mounts' teardown as we exit) at the ordinary priority, beside Node's handling of the exit. */
  mc_unhasten();
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
  long long reaped = mc_monotonic_ns();
  struct mc_owner_times times;
  mc_owner_unguard(&times);
  /* The watcher, at its priority, usually saw the exit first. */
  if (!times.exited || exited < times.exited) times.exited = exited;
  record_exit(spec->exit_file, code, sig, &times, reaped);
  if (mnt_ns >= 0) close(mnt_ns);
  /* A short program's may still be in its umount2: our end is no orphan for an init that may not reap. */
  mc_old_root_reap(1);
  _exit(0);
}

/* Reads the child's failure record; on failure reports it, reaps the child and exits. */
static void await_exec(int report_fd, pid_t pid) {
  struct mc_failure failure;
  int failed = mc_report_read(report_fd, &failure);
  close(report_fd);
  if (!failed) return;
  say_failure(&failure);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
  /* The child gone, the helper hears its socket's end and exits at once. */
  mc_old_root_reap(1);
  _exit(1);
}

/* The control socket stays open for a message after the spec: a late network namespace's, or a pre-started container's claim. */
static void start_child(int report[2], struct mc_spec *spec) {
  close(report[0]);
  mc_report_set_fd(report[1]);
  if (spec->netns_late) mc_netns_late_expect(CONTROL_FD, spec);
  if (spec->prestart) mc_prestart_child_begin(CONTROL_FD);
  if (!spec->netns_late && !spec->prestart) close(CONTROL_FD);
}

static __attribute__((noreturn)) void finish_child(const struct mc_spec *spec, int report_fd) {
  mc_enter_identity(spec);
  /* Whatever else is open stays out of the container. */
  mc_cloexec_from(3);
  if (spec->init) mc_run_init(spec, report_fd);
  mc_exec(spec);
}

/* Keeps the assembled filesystem alive for /proc/<pid>/root until Node kills us. */
static __attribute__((noreturn)) void hold(int report_fd) {
  mc_old_root_await();
  close(report_fd);
  for (;;) pause();
}

/* The program's stdio and network namespace, when given as paths (a shim started before its spec). */
static void open_paths(struct mc_spec *spec) {
  static const int flags[3] = {O_RDONLY, O_WRONLY | O_APPEND | O_CREAT, O_WRONLY | O_APPEND | O_CREAT};
  for (int i = 0; i < 3; i++) {
    if (!spec->stdio[i] || (i > 0 && spec->log_path)) continue;
    if (i == 0 && !strcmp(spec->stdio[0], "/dev/null")) {
      /* An empty pipe, not the host's /dev/null: root inside could fchmod a host device. */
      int p[2];
      if (pipe(p) < 0 || dup2(p[0], 0) < 0) mc_fail("stdin pipe", errno, "pipe");
      close(p[0]);
      close(p[1]);
      continue;
    }
    int fd = open(spec->stdio[i], flags[i] | O_CLOEXEC, 0640);
    if (fd < 0) mc_fail("open stdio", errno, "%s", spec->stdio[i]);
    if (dup2(fd, i) < 0) mc_fail("dup2 stdio", errno, "%s", spec->stdio[i]);
    close(fd);
  }
  if (spec->netns_path) {
    spec->netns_fd = open(spec->netns_path, O_RDONLY | O_CLOEXEC);
    if (spec->netns_fd < 0) mc_fail("open network namespace", errno, "%s", spec->netns_path);
  }
}

/* Pipes for the program's stdout and stderr, whose read ends the logger owns; NULL without a log. */
static struct mc_log *open_log(const struct mc_spec *spec, int out[2], int err[2]) {
  static struct mc_log log;
  if (!spec->log_path) return NULL;
  if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) mc_fail("output pipes", errno, "pipe");
  if (mc_log_open(&log, spec->log_path, spec->log_max_size, spec->log_max_files, out[0], err[0]) < 0) mc_fail("open log", errno, "%s", spec->log_path);
  return &log;
}

/* In the child: the pipes' write ends become its stdout and stderr. */
static void attach_output(int out[2], int err[2]) {
  if (dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0) mc_fail("dup2 stdio", errno, "output pipes");
}

static int run(struct mc_spec *spec, pid_t owner) {
  if (!spec->detach && owner <= 0) mc_fail("spec", EINVAL, "an owned container needs its owner's pid");
  if (!spec->detach) mc_owner_watch(owner);
  else setsid();
  if (!spec->rootfs) mc_fail("spec", EINVAL, "no rootfs");
  /* A late namespace is joined by path by the child itself, as root of the host's user namespace. */
  if (spec->netns_late && (spec->netns_path || spec->userns || spec->userns_path || spec->hold))
    mc_fail("spec", EINVAL, "netnslate goes with no netnspath, user namespace or hold");
  /* A pre-started container's process comes later; what it is set up with must not depend on it. */
  if (spec->prestart && spec->hold) mc_fail("spec", EINVAL, "prestart goes with no hold");
  open_paths(spec);
  int out[2], err[2];
  struct mc_log *log = open_log(spec, out, err);
  if (mc_cgroups_open(spec) < 0) mc_fail("open cgroup", errno, "cgroup.procs");
  /* Before a user namespace is entered: leaving the warm network namespace needs the host's privilege. */
  unsigned long clone_flags = mc_netns_settle(spec);
  /* After every host path is open (as the caller still), so that the container's namespaces are the new user namespace's. */
  if (spec->userns_path) mc_join_userns(spec->userns_path);
  else if (spec->userns) mc_enter_userns();

  int report[2], gate[2] = {-1, -1};
  if (pipe2(report, O_CLOEXEC) < 0) mc_fail("pipe", errno, "report pipe");
  int nested = spec->nuid_maps > 0;
  if (nested && pipe2(gate, O_CLOEXEC) < 0) mc_fail("pipe", errno, "keep-id gate");
  if (spec->prestart) mc_prestart_open();
  /*
   * keep-id: the child starts in a user namespace nested in the keeper's, where it holds no capability
   * over the keeper's namespace, which owns the network namespace (setns would be EPERM). The shim,
   * root of the keeper's namespace, joins it here instead, and the child inherits it through the clone.
   */
  if (nested && spec->netns_fd >= 0) {
    if (setns(spec->netns_fd, CLONE_NEWNET) < 0) mc_fail("join network namespace", errno, "fd %d", spec->netns_fd);
    close(spec->netns_fd);
    spec->netns_fd = -1;
  }
  mc_step(MC_STEP_CLONE);
  int born = 0;
  pid_t pid = mc_owner_clone(clone_flags, spec->cgroup_dir_fd, &born); /* the container never outlives its shim */
  if (pid < 0) mc_fail("clone", errno, "namespaces");
  if (pid == 0) {
    if (nested) mc_await_nested_maps(gate);
    mc_step(MC_STEP_CHILD);
    spec->cgroup_born = born;
    start_child(report, spec);
    if (log) attach_output(out, err);
    mc_cgroups_join(spec, -1);
    mc_step(MC_STEP_CGROUP_JOINED);
    if (spec->netns_fd >= 0) {
      if (setns(spec->netns_fd, CLONE_NEWNET) < 0) mc_fail("join network namespace", errno, "fd %d", spec->netns_fd);
      close(spec->netns_fd);
    }
    mc_setup_rootfs(spec);
    if (spec->hold) hold(report[1]);
    if (spec->loopback_up) mc_loopback_up();
    if (spec->prestart) {
      /* Everything but the process done, the old root detached too: ready for the claim (if not claimed at its network's join). */
      mc_old_root_await();
      mc_prestart_await_claim(spec, 1);
    }
    mc_setup_uts(spec);
    finish_child(spec, report[1]);
  }
  mc_old_root_leave_to_child();
  if (nested) mc_map_nested(pid, spec, gate);
  /*
   * While the child sets itself up: what the monitor needs (the watcher thread, the mount
   * namespace held) is ready before the exec, so a short program's exit is seen without them
   * in between. A start that fails ends the shim, watcher and all.
   */
  int mnt_ns = hold_mounts(pid);
  int oom_fd = mc_cgroup_oom_open(spec);
  mc_owner_guard();
  close(report[1]);
  if (spec->netns_fd >= 0) close(spec->netns_fd);
  if (log) {
    close(out[1]);
    close(err[1]);
  }
  /* A pre-started child that fails before it is ready says why in its report, as any. */
  if (spec->prestart && mc_prestart_ready()) say("R %d\n", pid);
  /*
   * The exec's report (the pipe's end, as the program starts) and then its exit wake us on the
   * program's CPU, most often, where we would wait behind it and the load: hastened (until the
   * program's first output, await_exit), "S" and "X" go out at once instead.
   */
  mc_hasten(0);
  await_exec(report[0], pid);
  mc_step(MC_STEP_EXEC_SEEN);
  /* One send: the step times ride with the start, never on their own. */
  char steps[32 * MC_STEP_COUNT];
  mc_steps_line(steps, sizeof(steps));
  say("S %d\n%s", pid, steps);
  monitor(pid, spec, log, mnt_ns, oom_fd);
}

/*
 * The container's root directory, opened through /proc before setns (as nsenter --root does).
 * Joining a mount namespace sets our root to the namespace's root mount, which is the
 * container's only when whoever started it was not chrooted: from a chroot, pivot_root put the
 * container's root where the chroot was, and the namespace's root is still the host's /.
 */
static int open_container_root(pid_t pid, int pidfd) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
  int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) mc_fail("open container root", errno, "%s", path);
  /* Still alive after the open: the pid was not reused meanwhile, so the root is the container's. */
  if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0) mc_fail("open container process", errno, "not running");
  return fd;
}

static void enter_root(int root_fd) {
  if (fchdir(root_fd) < 0) mc_fail("enter container root", errno, "fchdir");
  if (chroot(".") < 0) mc_fail("enter container root", errno, "chroot");
  close(root_fd);
}

static int exec_in(struct mc_spec *spec) {
  int pidfd = (int)syscall(SYS_pidfd_open, spec->target_pid, 0);
  if (pidfd < 0) mc_fail("open container process", errno, "not running");
  int root_fd = open_container_root(spec->target_pid, pidfd);
  /* Before setns: the cgroup files are host paths. The cgroup namespace is joined by the child, after its cgroups. */
  if (mc_cgroups_open(spec) < 0) mc_fail("open cgroup", errno, "cgroup.procs");
  if (setns(pidfd, (int)spec->join_flags) < 0) mc_fail("join namespaces", errno, "setns");
  enter_root(root_fd);

  int report[2];
  if (pipe2(report, O_CLOEXEC) < 0) mc_fail("pipe", errno, "report pipe");
  pid_t pid = fork(); /* the fork enters the joined pid namespace */
  if (pid < 0) mc_fail("fork", errno, "exec");
  if (pid == 0) {
    start_child(report, spec);
    /* Its own process group: cancelling the exec (a timed-out health check) kills what it started too. */
    setpgid(0, 0);
    mc_cgroups_join(spec, pidfd);
    close(pidfd);
    finish_child(spec, report[1]);
  }
  close(pidfd);
  close(report[1]);
  await_exec(report[0], pid);
  say("S %d\n", pid);
  int mnt_ns = hold_mounts(pid);
  mc_owner_guard();
  monitor(pid, spec, NULL, mnt_ns, -1);
}

int main(int argc, char **argv) {
  static struct mc_spec spec;
  if (argc < 2) {
    fprintf(stderr, "usage: mc-shim run|exec|probe-userns|keeper [owner pid] (spec on fd 3); started by minicontainer\n");
    return 2;
  }
  /* No spec: the probe reports each step on fd 3 itself. */
  if (!strcmp(argv[1], "probe-userns")) return mc_probe_userns(CONTROL_FD);
  if (!strcmp(argv[1], "netns-sockets") && argc > 2) return mc_netns_sockets(CONTROL_FD, argv[2]);
  if (!strcmp(argv[1], "relay")) return mc_relay(CONTROL_FD, argc - 2, argv + 2);
  if (!strcmp(argv[1], "keeper") && argc > 2) return mc_keeper(CONTROL_FD, (pid_t)atoi(argv[2]));
  const char *mode = argv[1];
  pid_t owner = argc > 2 ? (pid_t)atoi(argv[2]) : 0;
  /* Returns in each shim it forks, which goes on as `mc-shim run|exec <owner>` would. */
  if (!strcmp(mode, "zygote") && argc > 3) mode = mc_zygote(owner, argv, CONTROL_FD);
  /* Until a child exists, failures are said to Node directly. */
  mc_report_to(fail_shim, 1);
  /* A bare run shim (zygote.h) is for a start that brings its own network namespace (a bridge's): none warmed. */
  int warm_netns = strcmp(mode, "run-bare") != 0;
  if (!warm_netns) mode = "run";
  /* Off the start's path: a spare shim waits here in Node's pool until a start sends its spec. */
  if (!strcmp(mode, "run") && owner) {
    mc_owner_prepare(owner);
    mc_steps_init();
    /* Before the warm network namespace: the helper pins none of the container's namespaces. */
    mc_old_root_prefork();
    if (warm_netns) mc_netns_warm();
  }
  mc_spec_read(CONTROL_FD, &spec);
  mc_step(MC_STEP_SPEC_READ);
  if (!strcmp(mode, "dump-spec")) {
    mc_spec_dump(&spec, stdout);
    return 0;
  }
  /* fds past the ones Node passed on purpose must not reach the container. */
  mc_cloexec_from(CONTROL_FD + 1);
  if (!strcmp(mode, "run")) return run(&spec, owner);
  if (!strcmp(mode, "exec")) return exec_in(&spec);
  mc_fail("mode", EINVAL, "%s", mode);
}
