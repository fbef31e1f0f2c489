/*
 * The last steps before the container's program runs: working directory,
 * user, capabilities, and execve with Docker's PATH lookup.
 */
#define _GNU_SOURCE
#include "process.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroup.h"
#include "old-root.h"
#include "report.h"
#include "steps.h"
#include "seccomp.h"

static void make_dirs(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof(buf), "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    mkdir(buf, 0755);
    *p = '/';
  }
  mkdir(buf, 0755);
}

static void enter_cwd(const struct mc_spec *s) {
  const char *cwd = s->cwd && *s->cwd ? s->cwd : "/";
  if (chdir(cwd) == 0) return;
  /* Docker creates a missing working directory rather than failing. */
  if (errno == ENOENT) make_dirs(cwd);
  if (chdir(cwd) < 0) mc_fail("chdir", errno, "%s", cwd);
}

static int last_cap(void) {
  int last = CAP_LAST_CAP;
  while (prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0) last++;
  return last;
}

/* Our bounding set and the kernel's last capability, read once (mc_probe_capabilities); last is -1 until then. */
static uint64_t bounding;
static int last_known = -1;

void mc_probe_capabilities(void) {
  if (last_known >= 0) return;
  last_known = last_cap();
  for (int cap = 0; cap <= last_known && cap < 64; cap++)
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) bounding |= 1ULL << cap;
}

static void drop_bounding_set(uint64_t keep) {
  for (int cap = 0; cap <= last_known; cap++) {
    /* A capability out of the set already: its drop would change nothing. */
    if (cap < 64 && ((keep & (1ULL << cap)) || !(bounding & (1ULL << cap)))) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) mc_fail("drop capability", errno, "cap %d", cap);
  }
}

static void set_capabilities(uint64_t caps) {
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof(data));
  for (int i = 0; i < 2; i++) {
    uint32_t word = (uint32_t)(caps >> (32 * i));
    data[i].effective = data[i].permitted = data[i].inheritable = word;
  }
  if (syscall(SYS_capset, &header, data) < 0) mc_fail("capset", errno, "0x%llx", (unsigned long long)caps);
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

void mc_enter_identity(const struct mc_spec *s) {
  mc_probe_capabilities();
  /* Capabilities the runtime itself lacks (a restricted host) cannot be granted: "all" means all we have. */
  uint64_t caps = s->caps & bounding;
  mc_set_rlimits(s); /* raising a hard limit needs CAP_SYS_RESOURCE, dropped below */
  drop_bounding_set(caps);
  /* As late as it can be, so that the helper's detach overlaps the most: before our cwd leaves the root
     (a fallback detaches "."), before the filter and the capabilities go (they would refuse it). */
  mc_old_root_await();
  enter_cwd(s);
  if (s->uid != 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) mc_fail("keepcaps", errno, "prctl");
  /* In a user namespace of one id, setgroups is denied (and no other group is mapped to be set). */
  if (s->userns != MC_USERNS_SINGLE && setgroups(s->ngroups, s->groups) < 0) mc_fail("setgroups", errno, "%zu groups", s->ngroups);
  if (setresgid(s->gid, s->gid, s->gid) < 0) mc_fail("setgid", errno, "%u", s->gid);
  /*
   * Without no_new_privs the kernel lets only CAP_SYS_ADMIN install a filter,
   * which the next steps give up: install it now, as runc does (the profile
   * must then allow setresuid, capset and prctl, as Docker's does).
   */
  if (!s->no_new_privs) mc_install_seccomp(s);
  if (setresuid(s->uid, s->uid, s->uid) < 0) mc_fail("setuid", errno, "%u", s->uid);
  /* Like Docker: a non-root user keeps the bounding set but starts with no effective capabilities. */
  set_capabilities(s->uid == 0 ? caps : 0);
  if (s->no_new_privs) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) mc_fail("no_new_privs", errno, "prctl");
    mc_install_seccomp(s); /* the last step before execve: the filter sees only the program */
  }
}

static const char *env_path(char *const env[]) {
  for (size_t i = 0; env && env[i]; i++)
    if (!strncmp(env[i], "PATH=", 5)) return env[i] + 5;
  return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

/*
 * Docker's lookup of argv[0] in the container's environment: the path itself when it has a '/',
 * else each $PATH entry in turn. `try` is called with each candidate until it returns nonzero.
 */
static void each_candidate(const struct mc_spec *s, int (*try)(const char *path, void *ctx), void *ctx) {
  const char *file = s->argv[0];
  if (strchr(file, '/')) {
    try(file, ctx);
    return;
  }
  const char *path = env_path(s->env);
  char candidate[4096];
  while (*path) {
    const char *colon = strchrnul(path, ':');
    int len = (int)(colon - path);
    snprintf(candidate, sizeof(candidate), "%.*s/%s", len ? len : 1, len ? path : ".", file);
    if (try(candidate, ctx)) return;
    path = *colon ? colon + 1 : colon;
  }
}

static int found(const char *path, void *ctx) {
  struct stat st;
  return stat(path, &st) == 0;
}

void mc_warm_exec(const struct mc_spec *s) {
  if (s->argv && s->argv[0]) each_candidate(s, found, NULL);
}

struct exec_attempt {
  const struct mc_spec *spec;
  char *const *env;
  int denied;
};

/* Returns only when the candidate could not be run and the search goes on. */
static int try_exec(const char *path, void *ctx) {
  struct exec_attempt *a = ctx;
  execve(path, a->spec->argv, a->env);
  /* A path given with a '/' is the only candidate: its failure is the start's. */
  if (strchr(a->spec->argv[0], '/')) mc_fail("exec", errno, "%s", path);
  if (errno == EACCES) a->denied = 1;
  else if (errno != ENOENT && errno != ENOTDIR) mc_fail("exec", errno, "%s", path);
  return 0;
}

void mc_exec(const struct mc_spec *s) {
  mc_step(MC_STEP_EXECVE);
  struct exec_attempt attempt = {.spec = s, .env = s->env ? s->env : (char *const[]){NULL}};
  each_candidate(s, try_exec, &attempt);
  mc_fail("exec", attempt.denied ? EACCES : ENOENT, "executable file not found in $PATH: %s", s->argv[0]);
}
