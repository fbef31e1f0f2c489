/*
 * The zygote: one per Node process that runs containers, started by exec like any shim and then
 * only forking. Starting a static glibc program costs ~0.6 ms of CPU on a VM (glibc's start asks
 * the CPU about its caches with `cpuid`, which traps to the hypervisor); a burst of 50 containers
 * paid it 49 times, once per shim. A fork of this small, already started process skips exec and
 * glibc's start.
 *
 * What must stay true, and why it does:
 *  - Node is the shim's parent, as when it spawned it (CLONE_PARENT): it reaps it, the owner check
 *    (getppid() == owner) and PR_SET_PDEATHSIG hold as before, and a detached container's shim is
 *    adopted by init like a spawned one. The kernel clears PDEATHSIG in the child, so the zygote's
 *    own (it dies with Node) is not the shim's.
 *  - No fd of one shim reaches another: a run shim keeps 0-2 (/dev/null, as for a spawned spare), an
 *    exec shim takes the stdio Node passed (its pipes); each takes its own control socket as fd 3
 *    and closes everything else, the zygote's socket and any request still queued included; the
 *    zygote closes each passed fd right after the fork (a pipe's writer left open would keep Node
 *    waiting for its end).
 *  - Nothing of a container is shared: the zygote never reads a spec, never mmaps the steps page,
 *    never joins or makes a namespace, sets no signal handler or mask and installs no seccomp; the
 *    child does all of that itself after the fork, as a freshly exec'd shim would.
 *  - The raw clone leaves glibc's cached tid of the main thread at the zygote's pid. The shim uses
 *    it only as an opaque lock-owner id (no PI or robust mutexes), so it stays correct.
 */
#define _GNU_SOURCE
#include "zygote.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "spec.h"

/* The fds a request passes: an exec shim's control socket and stdio (Node's pipes); a run shim's socket alone. */
#define MAX_PASSED 4

/*
 * One request: a byte ('F' a run shim, 'B' a bare one, 'E' an exec shim), Node's umask (int32, -1: unknown) and the fds
 * passed with it, into `passed` (the rest -1); how many, -1 for a malformed request (its fds closed), or 0
 * when Node closed the socket (or sent less than a request).
 */
static int next_request(char *mode, int32_t *mask, int passed[MAX_PASSED]) {
  char request[1 + sizeof(int32_t)];
  union {
    char buf[CMSG_SPACE(sizeof(int) * MAX_PASSED)];
    struct cmsghdr align;
  } control;
  struct iovec iov = {.iov_base = request, .iov_len = sizeof(request)};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf)};
  ssize_t n;
  do n = recvmsg(MC_ZYGOTE_FD, &msg, MSG_CMSG_CLOEXEC | MSG_WAITALL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return 0;
  int got = 0;
  for (int i = 0; i < MAX_PASSED; i++) passed[i] = -1;
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  if (n > 0 && cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
    got = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    memcpy(passed, CMSG_DATA(cm), sizeof(int) * (size_t)got);
  }
  if (n != (ssize_t)sizeof(request)) {
    for (int i = 0; i < got; i++) close(passed[i]);
    return 0;
  }
  *mode = request[0];
  memcpy(mask, request + 1, sizeof(*mask));
  int wanted = *mode == 'F' || *mode == 'B' ? 1 : *mode == 'E' ? MAX_PASSED : 0;
  if (got == wanted && got > 0 && !(msg.msg_flags & MSG_CTRUNC)) return got;
  /* Whatever came with a request we do not serve is closed, not kept for the next child to inherit. */
  for (int i = 0; i < got; i++) close(passed[i]);
  return -1;
}

/*
 * In the child: passed[0] becomes `control_fd`, an exec shim's stdio (passed[1..3]) become 0-2, and no
 * other fd above stdio stays open. The passed fds are all above the zygote's 0-4, so no dup2 here
 * replaces one still to be moved.
 */
static void keep_only(const int *passed, int count, int control_fd) {
  if (dup2(passed[0], control_fd) < 0) _exit(1);
  for (int i = 1; i < count; i++)
    if (dup2(passed[i], i - 1) < 0) _exit(1);
  if (syscall(SYS_close_range, control_fd + 1, ~0U, 0) == 0) return;
  /* Before Linux 5.9: every fd the zygote can hold (it opens none but its socket and the queued requests' fds). */
  for (int fd = control_fd + 1; fd < 1024; fd++) close(fd);
}

static void answer(int32_t pid_or_errno) {
  ssize_t ignored = send(MC_ZYGOTE_FD, &pid_or_errno, sizeof(pid_or_errno), MSG_NOSIGNAL);
  (void)ignored;
}

/* The child's command line becomes "mc-shim <mode> <owner>", as a spawned shim's reads in ps and /proc. */
static void rename_to(char **argv, const char *mode) {
  size_t len = strlen(argv[1]), mode_len = strlen(mode);
  memset(argv[1], 0, len);
  memcpy(argv[1], mode, mode_len < len ? mode_len : len);
  memset(argv[3], 0, strlen(argv[3]));
}

const char *mc_zygote(pid_t owner, char **argv, int control_fd) {
  /* A library of another protocol gets no shim from us: its forks fail, and it spawns shims as before. */
  if (atoi(argv[3]) != MC_PROTOCOL_VERSION) _exit(2);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != owner) _exit(1);
  char mode;
  int32_t mask;
  int passed[MAX_PASSED];
  int count;
  while ((count = next_request(&mode, &mask, passed))) {
    if (count < 0) {
      answer(-EINVAL);
      continue;
    }
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT, NULL, NULL, NULL, 0);
    if (pid == 0) {
      const char *as = mode == 'E' ? "exec" : "run";
      keep_only(passed, count, control_fd);
      /* Node's umask at the request, as a shim spawned then would have it, not Node's at the zygote's start. */
      if (mask >= 0) umask((mode_t)(mask & 0777));
      rename_to(argv, as);
      return mode == 'B' ? "run-bare" : as;
    }
    int err = errno;
    for (int i = 0; i < count; i++) close(passed[i]);
    answer(pid > 0 ? pid : -err);
  }
  _exit(0);
}
