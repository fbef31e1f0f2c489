/*
 * The old root after pivot_root(".", "."): the copy of the host's mount tree, stacked on the
 * container's root until it is detached. umount2(MNT_DETACH) detaches it at once, but before it
 * returns it waits for an RCU grace period (namespace_unlock: synchronize_rcu_expedited) to free
 * the mounts: 0.05 ms on an idle machine, 3 to 50 ms on a loaded 2-vCPU VM (perf trace), the
 * largest single step of a start. The child needs the detach, not the freeing.
 *
 * So a helper, forked by the spare shim before its start (outside the container's pid namespace:
 * the program never sees it; at real-time priority, as the owner's watcher, so that a loaded
 * machine does not queue its wakeup), joins the child's mount namespace when the child has pivoted
 * (the namespace and the new root come as fds with the child's word, never through a pid) and
 * detaches the old root there, as the child would (umount2 of ".", the new root, reaches the
 * mount stacked on it). The child meanwhile mounts the masked and read-only paths and sets its
 * hostname, loopback, rlimits and bounding set; before it leaves the root for its working
 * directory, changes ids and installs its filter, it waits until the old root's mount has left its
 * namespace (statmount, or /proc/self/mountinfo before 6.8; a poll on mountinfo wakes on any change
 * of the namespace's mounts). When the helper ends (or never started) with the old root still
 * there, the child detaches it itself, as before: the program never starts with the host's mounts
 * in its namespace, whatever the helper did.
 */
#define _GNU_SOURCE
#include "old-root.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/stat.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report.h"
#include "sockets.h"

/* [0]: the shim's end, which the child inherits; [1]: the helper's. -1 when there is no helper. */
static int pair[2] = {-1, -1};
static pid_t helper_pid = -1;
/* The shim that forked it: the only process that may end and reap it (the child inherits these statics). */
static pid_t helper_parent = -1;
/* The shim's pidfd of the helper, until it is reaped (mc_old_root_reap): -1 when there is none. */
static int helper_fd = -1;

static void close_pair(void) {
  for (int i = 0; i < 2; i++)
    if (pair[i] >= 0) close(pair[i]);
  pair[0] = pair[1] = -1;
}

/* As the owner's watcher (owner.c): woken, it runs at once rather than behind a loaded machine's queue. */
static void run_first(void) {
  struct sched_param p = {.sched_priority = 1};
  if (sched_setscheduler(0, SCHED_FIFO, &p) < 0) setpriority(PRIO_PROCESS, 0, -20);
}

/*
 * Waits for the child's word that it has pivoted, a 'p' with its mount namespace (fds[0]) and its new root
 * (fds[1]) attached; 0, or -1 when the child ended without a word (every peer's end closed) or the word
 * came without both fds.
 */
static int await_pivot(int sock, int fds[2]) {
  char tag;
  int n = mc_recv_fds(sock, &tag, 1, fds, 2, -1);
  return n == 1 && tag == 'p' && fds[0] >= 0 && fds[1] >= 0 ? 0 : -1;
}

/*
 * The helper: forked by a spare shim, before any start, and so off the start's path (the fork and its
 * copy of the shim's fds, closed here at once). Only system calls here: it is a fork of a threaded
 * shim. Detaches the old root in the child's mount namespace, from its new root, as the child's own
 * umount2(".") would. Both come from the child itself, as fds: never a pid, which the kernel may have
 * given to another process by the time a root helper looks it up in /proc.
 */
static __attribute__((noreturn)) void helper(int sock) {
  if (sock > 0) syscall(SYS_close_range, 0, sock - 1, 0);
  syscall(SYS_close_range, sock + 1, ~0U, 0);
  /* Named for what it is: a spare shim's one child, never a container (ps, and the tests that look for strays). */
  prctl(PR_SET_NAME, "mc-old-root", 0, 0, 0);
  run_first();
  int fds[2];
  if (await_pivot(sock, fds) < 0 || setns(fds[0], CLONE_NEWNS) < 0 || fchdir(fds[1]) < 0) _exit(1);
  _exit(umount2(".", MNT_DETACH) < 0);
}

void mc_old_root_prefork(void) {
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
    pair[0] = pair[1] = -1;
    return;
  }
  /* A raw fork: no atfork handlers in a copy of a threaded process. */
  helper_parent = getpid();
  helper_pid = (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, 0);
  if (helper_pid == 0) helper(pair[1]);
  if (helper_pid < 0) {
    close_pair();
    return;
  }
  close(pair[1]);
  pair[1] = -1;
  helper_fd = (int)syscall(SYS_pidfd_open, helper_pid, 0);
}

int mc_old_root_helper_fd(void) {
  return helper_fd;
}

void mc_old_root_reap(int block) {
  if (helper_pid <= 0) return;
  while (waitpid(helper_pid, NULL, block ? 0 : WNOHANG) < 0 && errno == EINTR) {
  }
  if (helper_fd >= 0) close(helper_fd);
  helper_fd = -1;
  helper_pid = -1;
}

void mc_old_root_end(void) {
  if (helper_pid <= 0 || getpid() != helper_parent) return;
  /* Our child, not yet reaped: its pid cannot name another process. */
  kill(helper_pid, SIGKILL);
  mc_old_root_reap(1);
}

void mc_old_root_leave_to_child(void) {
  if (pair[0] < 0) return;
  /* The child's copy is the helper's only peer now: a child that ends before its word ends the helper. */
  close(pair[0]);
  pair[0] = -1;
}

/* statmount(2) and the unique mount id it takes (6.8); older headers lack them. The numbers are every architecture's. */
#ifndef SYS_statmount
#define SYS_statmount 457
#endif
#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif
struct old_root_mnt_id_req {
  uint32_t size, spare;
  uint64_t mnt_id, param;
};
#define STATMOUNT_SB_BASIC_PARAM 0x1U

static uint64_t old_root_id;        /* the old root's mount id (mountinfo's first field); 0 when unknown */
static uint64_t old_root_unique_id; /* its unique id, for statmount; 0 when unknown or statmount is missing */
static int mountinfo_fd = -1;
/* The child's mount namespace, opened before pivot_root (which does not change it), for the helper. */
static int mnt_ns_fd = -1;

static uint64_t root_mount_id(unsigned int mask) {
  struct statx stx;
  if (syscall(SYS_statx, AT_FDCWD, "/", 0, mask, &stx) == 0 && (stx.stx_mask & mask)) return stx.stx_mnt_id;
  return 0;
}

void mc_old_root_note(int without_statmount) {
  if (pair[0] >= 0) mnt_ns_fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
  old_root_id = root_mount_id(STATX_MNT_ID);
  old_root_unique_id = without_statmount ? 0 : root_mount_id(STATX_MNT_ID_UNIQUE);
}

static void detach_self(void) {
  if (umount2(".", MNT_DETACH) < 0) mc_fail("detach old root", errno, "/");
}

static void end_hand_over(void) {
  if (mountinfo_fd >= 0) close(mountinfo_fd);
  mountinfo_fd = -1;
  if (pair[0] >= 0) close(pair[0]);
  pair[0] = -1;
}

/* The 'p' word, with the fds the helper needs: our mount namespace and our new root. */
static int tell_pivoted(int new_root_fd) {
  int fds[2] = {mnt_ns_fd, new_root_fd};
  return mc_send_fds(pair[0], "p", 1, fds, 2) == 1;
}

void mc_old_root_hand_over(int new_root_fd) {
  /* Opened before the helper can act: the poll reports every change of the mounts after the open. */
  if (old_root_id && pair[0] >= 0 && mnt_ns_fd >= 0) mountinfo_fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
  int told = mountinfo_fd >= 0 && tell_pivoted(new_root_fd);
  if (mnt_ns_fd >= 0) close(mnt_ns_fd);
  mnt_ns_fd = -1;
  if (told) return;
  end_hand_over();
  detach_self();
}

/*
 * statmount of the old root: 1 while it is in our namespace, 0 once it left (ENOENT), -1 when it cannot
 * tell (a kernel before 6.8). One system call, where reading mountinfo formats every mount (0.1 ms).
 */
static int statmount_attached(void) {
  static uint64_t buf[512];
  struct old_root_mnt_id_req req = {.size = 24, .mnt_id = old_root_unique_id, .param = STATMOUNT_SB_BASIC_PARAM};
  if (syscall(SYS_statmount, &req, buf, sizeof(buf), 0) == 0) return 1;
  return errno == ENOENT ? 0 : -1;
}

/*
 * One line of mountinfo read so far: "<id> <parent> <major:minor> <root> <mount point> ...". The old root
 * is the mount with its id whose mount point is "/" (stacked on the new root). Its id alone does not tell:
 * ids are not unique, and once the detached tree is freed the next mount made (a masked path) may take it.
 * Only a mount of "/" itself could then be taken for it, and the spec's masked and read-only paths are
 * never "/".
 */
struct mountinfo_line {
  unsigned field; /* index of the field being read */
  uint64_t id;
  size_t point_len;
  char point_first;
};

static int is_old_root(const struct mountinfo_line *l) {
  return l->id == old_root_id && l->point_len == 1 && l->point_first == '/';
}

static void read_char(struct mountinfo_line *l, char c) {
  if (c == ' ') l->field++;
  else if (l->field == 0 && c >= '0' && c <= '9') l->id = l->id * 10 + (uint64_t)(c - '0');
  else if (l->field == 4 && l->point_len++ == 0) l->point_first = c;
}

/* 1 when a line of mountinfo is the old root's, 0 when none is, -1 on error. */
static int mountinfo_attached(void) {
  char buf[4096];
  if (lseek(mountinfo_fd, 0, SEEK_SET) < 0) return -1;
  struct mountinfo_line line = {0};
  for (;;) {
    ssize_t n = read(mountinfo_fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? -1 : 0;
    for (ssize_t i = 0; i < n; i++) {
      if (buf[i] != '\n') {
        read_char(&line, buf[i]);
        continue;
      }
      if (is_old_root(&line)) return 1;
      line = (struct mountinfo_line){0};
    }
  }
}

static int old_root_attached(void) {
  if (old_root_unique_id) {
    int attached = statmount_attached();
    if (attached >= 0) return attached;
    old_root_unique_id = 0;
  }
  return mountinfo_attached();
}

void mc_old_root_await(void) {
  if (mountinfo_fd < 0) return; /* detached by the child already */
  struct pollfd fds[2] = {{.fd = mountinfo_fd, .events = POLLPRI}, {.fd = pair[0], .events = POLLIN}};
  int helper_done = 0;
  for (;;) {
    int attached = old_root_attached();
    if (attached == 0) break;
    if (attached < 0 || helper_done) {
      detach_self();
      break;
    }
    if (poll(fds, 2, -1) < 0 && errno != EINTR) helper_done = 1;
    /* Its end closed: the helper has exited, having detached the old root or not. */
    if (fds[1].revents) helper_done = 1;
  }
  end_hand_over();
}
