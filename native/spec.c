/* Parses the token list Node sends into struct mc_spec (see spec.h). */
#define _GNU_SOURCE
#include "spec.h"

#include "report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cursor {
  char *p, *end;
};

static const char *next(struct cursor *c) {
  if (c->p >= c->end) return NULL;
  char *s = c->p;
  char *nul = memchr(s, 0, (size_t)(c->end - s));
  if (!nul) return NULL;
  c->p = nul + 1;
  return s;
}

int mc_read_all(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Grows an array by one element; arrays are small, so doubling is not worth it. */
#define PUSH(arr, count, value)                                   \
  do {                                                            \
    void *grown = realloc((arr), sizeof(*(arr)) * ((count) + 2)); \
    if (!grown) return -1;                                        \
    (arr) = grown;                                                \
    (arr)[(count)++] = (value);                                   \
  } while (0)

static unsigned long num(const char *s) { return s ? strtoul(s, NULL, 10) : 0; }

static int parse_op(struct mc_spec *s, const char *key, struct cursor *c) {
  struct mc_op op = {0};
  if (!strcmp(key, "mount")) {
    op.kind = OP_MOUNT;
    op.type = next(c);
    op.source = next(c);
    op.target = next(c);
    op.flags = num(next(c));
    op.data = next(c);
    op.extra = (int)num(next(c));
    if (!op.extra && !op.data) return -1;
  } else if (!strcmp(key, "mknod")) {
    op.kind = OP_MKNOD;
    op.target = next(c);
    op.mode = (mode_t)num(next(c));
    op.major = (unsigned)num(next(c));
    op.minor = (unsigned)num(next(c));
    op.uid = (uid_t)num(next(c));
    const char *gid = next(c);
    if (!gid) return -1;
    op.gid = (gid_t)num(gid);
  } else if (!strcmp(key, "symlink")) {
    op.kind = OP_SYMLINK;
    op.source = next(c);
    op.target = next(c);
  } else if (!strcmp(key, "mask")) {
    op.kind = OP_MASK;
    op.target = next(c);
  } else if (!strcmp(key, "ropath")) {
    op.kind = OP_READONLY_PATH;
    op.target = next(c);
  } else if (!strcmp(key, "sysctl")) {
    op.kind = OP_SYSCTL;
    op.target = next(c);
    op.data = next(c);
    if (!op.data) return -1;
  } else {
    return 1; /* not an op */
  }
  if (!op.target) return -1;
  PUSH(s->ops, s->nops, op);
  return 0;
}

/* rlimit <resource> <soft> <hard>; "-1" is unlimited (strtoull wraps it to RLIM_INFINITY). */
static int parse_rlimit(struct mc_spec *s, struct cursor *c) {
  struct mc_rlimit r;
  const char *resource = next(c), *soft = next(c), *hard = next(c);
  if (!hard) return -1;
  r.resource = (int)num(resource);
  r.soft = strtoull(soft, NULL, 10);
  r.hard = strtoull(hard, NULL, 10);
  PUSH(s->rlimits, s->nrlimits, r);
  return 0;
}

/* uidmap|gidmap <inside> <outside> <count>: one line of a nested user namespace's map. */
static int parse_idmap(struct mc_idmap **maps, size_t *n, struct cursor *c) {
  struct mc_idmap m;
  const char *inside = next(c), *outside = next(c), *count = next(c);
  if (!count) return -1;
  m.inside = (unsigned)strtoul(inside, NULL, 10);
  m.outside = (unsigned)strtoul(outside, NULL, 10);
  m.count = (unsigned)strtoul(count, NULL, 10);
  PUSH(*maps, *n, m);
  return 0;
}

/* The keys of a claim message: what a run decides about its process, and nothing about its container. */
static int process_key(const char *key) {
  static const char *const keys[] = {"cwd", "uid", "gid", "group", "caps", "nnp", "seccomp", "seccompflags", "env", "arg", "rlimit", "hostname", "netnspath"};
  for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
    if (!strcmp(key, keys[i])) return 1;
  return 0;
}

/* `process_only`: a claim message, whose other keys are refused. */
static int parse(struct mc_spec *s, struct cursor *c, int process_only) {
  const char *key;
  while ((key = next(c))) {
    if (process_only && !process_key(key)) return -1;
    if (!strcmp(key, "rlimit")) {
      if (parse_rlimit(s, c) < 0) return -1;
      continue;
    }
    if (!strcmp(key, "uidmap") || !strcmp(key, "gidmap")) {
      int uid = key[0] == 'u';
      if (parse_idmap(uid ? &s->uid_maps : &s->gid_maps, uid ? &s->nuid_maps : &s->ngid_maps, c) < 0) return -1;
      continue;
    }
    int r = parse_op(s, key, c);
    if (r < 0) return -1;
    if (r == 0) continue;
    const char *v = next(c);
    if (!v) return -1;
    if (!strcmp(key, "rootfs")) s->rootfs = v;
    else if (!strcmp(key, "lower")) PUSH(s->lowers, s->nlowers, v);
    else if (!strcmp(key, "upper")) s->upper = v;
    else if (!strcmp(key, "work")) s->work = v;
    else if (!strcmp(key, "readonly")) s->readonly_root = (int)num(v);
    else if (!strcmp(key, "volatile")) s->volatile_upper = (int)num(v);
    else if (!strcmp(key, "clone")) s->clone_flags = num(v);
    else if (!strcmp(key, "netnspath")) s->netns_path = v;
    else if (!strcmp(key, "netnslate")) s->netns_late = (int)num(v);
    else if (!strcmp(key, "stdin")) s->stdio[0] = v;
    else if (!strcmp(key, "stdout")) s->stdio[1] = v;
    else if (!strcmp(key, "stderr")) s->stdio[2] = v;
    else if (!strcmp(key, "log")) s->log_path = v;
    else if (!strcmp(key, "logmaxsize")) s->log_max_size = strtoll(v, NULL, 10);
    else if (!strcmp(key, "logmaxfiles")) s->log_max_files = (int)num(v);
    else if (!strcmp(key, "detach")) s->detach = (int)num(v);
    else if (!strcmp(key, "exitfile")) s->exit_file = v;
    else if (!strcmp(key, "init")) s->init = (int)num(v);
    else if (!strcmp(key, "lo")) s->loopback_up = (int)num(v);
    else if (!strcmp(key, "hold")) s->hold = (int)num(v);
    else if (!strcmp(key, "prestart")) s->prestart = (int)num(v);
    else if (!strcmp(key, "legacymounts")) s->legacy_mounts = (int)num(v);
    else if (!strcmp(key, "hostname")) s->hostname = v;
    else if (!strcmp(key, "pid")) s->target_pid = (pid_t)num(v);
    else if (!strcmp(key, "join")) s->join_flags = num(v);
    else if (!strcmp(key, "cwd")) s->cwd = v;
    else if (!strcmp(key, "uid")) s->uid = (uid_t)num(v);
    else if (!strcmp(key, "gid")) s->gid = (gid_t)num(v);
    else if (!strcmp(key, "group")) PUSH(s->groups, s->ngroups, (gid_t)num(v));
    else if (!strcmp(key, "caps")) s->caps = strtoull(v, NULL, 10);
    else if (!strcmp(key, "nnp")) s->no_new_privs = (int)num(v);
    else if (!strcmp(key, "seccomp")) s->seccomp = v;
    else if (!strcmp(key, "seccompflags")) s->seccomp_flags = (unsigned)num(v);
    else if (!strcmp(key, "cgroup")) PUSH(s->cgroup_procs, s->ncgroup_procs, v);
    else if (!strcmp(key, "cgroupns")) s->cgroupns = (int)num(v);
    else if (!strcmp(key, "cgroupdir")) s->cgroup_dir = v;
    else if (!strcmp(key, "oomcounter")) s->oom_counter = v;
    else if (!strcmp(key, "userns")) s->userns = (int)num(v);
    else if (!strcmp(key, "usernspath")) s->userns_path = v;
    else if (!strcmp(key, "env")) PUSH(s->env, s->nenv, (char *)v);
    else if (!strcmp(key, "arg")) PUSH(s->argv, s->nargv, (char *)v);
    else return -1;
  }
  if (s->env) s->env[s->nenv] = NULL;
  if (s->argv) s->argv[s->nargv] = NULL;
  return 0;
}

/* The spec's first token pair must be "protocol <MC_PROTOCOL_VERSION>": nothing else is read otherwise. */
static void check_protocol(struct cursor *c) {
  const char *key = next(c);
  const char *version = key && !strcmp(key, "protocol") ? next(c) : NULL;
  char ours[16];
  snprintf(ours, sizeof(ours), "%d", MC_PROTOCOL_VERSION);
  if (!version || strcmp(version, ours))
    mc_fail("protocol", EPROTO, "shim protocol %s, spec protocol %.20s", ours, version ? version : "none");
}

/* One framed message (a uint32 length, then its bytes) from fd, in a buffer of its own; fails at `step`, with `unsent` when none came. */
static char *read_message(int fd, const char *step, int unsent, uint32_t *len) {
  if (mc_read_all(fd, len, sizeof(*len)) < 0) mc_fail(step, unsent, "%s: cannot read length (none sent)", step);
  if (*len == 0 || *len > (64u << 20)) mc_fail(step, EINVAL, "%s: a length of %u", step, *len);
  char *blob = malloc(*len);
  if (!blob || mc_read_all(fd, blob, *len) < 0) mc_fail(step, EINVAL, "%s: cannot read %u bytes", step, *len);
  return blob;
}

void mc_spec_read(int fd, struct mc_spec *s) {
  memset(s, 0, sizeof(*s));
  s->netns_fd = -1;
  s->cgroup_dir_fd = -1;
  uint32_t len;
  s->blob = read_message(fd, "spec", EINVAL, &len);
  struct cursor c = {s->blob, s->blob + len};
  check_protocol(&c);
  if (parse(s, &c, 0) < 0) mc_fail("spec", EINVAL, "spec: malformed near offset %ld", (long)(c.p - s->blob));
  if (s->nargv == 0) mc_fail("spec", EINVAL, "spec: no command");
}

void mc_spec_read_process(int fd, struct mc_spec *s) {
  uint32_t len;
  char *blob = read_message(fd, "claim", EPIPE, &len); /* kept: the process's strings point into it */
  /* The claim's lists replace the spec's: nothing of the placeholder process is left to run. */
  s->argv = NULL, s->nargv = 0, s->env = NULL, s->nenv = 0, s->groups = NULL, s->ngroups = 0, s->rlimits = NULL, s->nrlimits = 0;
  s->seccomp = NULL, s->seccomp_flags = 0, s->cwd = NULL, s->hostname = NULL, s->uid = 0, s->gid = 0, s->caps = 0, s->no_new_privs = 0;
  struct cursor c = {blob, blob + len};
  if (parse(s, &c, 1) < 0) mc_fail("claim", EINVAL, "claim: malformed or not a process's near offset %ld", (long)(c.p - blob));
  if (s->nargv == 0) mc_fail("claim", EINVAL, "claim: no command");
}
