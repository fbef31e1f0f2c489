/*
 * `mc-shim dump-spec`: the decoded spec as JSON, for test/shim/spec-roundtrip.test.ts, which sends
 * a spec with every field set and compares what the shim understood with what the library meant.
 * Not on any container's path. 64-bit values (capabilities, rlimits) are strings: JSON numbers
 * lose precision past 2^53.
 */
#include "spec.h"

static void string(FILE *out, const char *s) {
  if (!s) {
    fputs("null", out);
    return;
  }
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(out, "\\%c", *p);
    else if (*p < 0x20) fprintf(out, "\\u%04x", *p);
    else fputc(*p, out);
  }
  fputc('"', out);
}

static void strings(FILE *out, const char *const *list, size_t n) {
  fputc('[', out);
  for (size_t i = 0; i < n; i++) {
    if (i) fputc(',', out);
    string(out, list[i]);
  }
  fputc(']', out);
}

static void key(FILE *out, const char *name) { fprintf(out, ",\"%s\":", name); }

static void op(FILE *out, const struct mc_op *o) {
  fprintf(out, "{\"kind\":%d,\"type\":", (int)o->kind);
  string(out, o->type);
  key(out, "source");
  string(out, o->source);
  key(out, "target");
  string(out, o->target);
  fprintf(out, ",\"flags\":%lu,\"data\":", o->flags);
  string(out, o->data);
  fprintf(out, ",\"extra\":%d,\"mode\":%u,\"major\":%u,\"minor\":%u,\"uid\":%u,\"gid\":%u}", o->extra, (unsigned)o->mode, o->major, o->minor,
          (unsigned)o->uid, (unsigned)o->gid);
}

static void run_fields(FILE *out, const struct mc_spec *s) {
  key(out, "rootfs");
  string(out, s->rootfs);
  key(out, "lowers");
  strings(out, s->lowers, s->nlowers);
  key(out, "upper");
  string(out, s->upper);
  key(out, "work");
  string(out, s->work);
  fprintf(out, ",\"readonly_root\":%d,\"volatile_upper\":%d,\"clone_flags\":%lu,\"netns_late\":%d,\"prestart\":%d,\"netns_path\":", s->readonly_root, s->volatile_upper, s->clone_flags, s->netns_late, s->prestart);
  string(out, s->netns_path);
  key(out, "stdio");
  strings(out, s->stdio, 3);
  key(out, "log_path");
  string(out, s->log_path);
  fprintf(out, ",\"log_max_size\":%lld,\"log_max_files\":%d,\"detach\":%d,\"exit_file\":", s->log_max_size, s->log_max_files, s->detach);
  string(out, s->exit_file);
  fprintf(out, ",\"init\":%d,\"loopback_up\":%d,\"hold\":%d,\"legacy_mounts\":%d,\"ops\":[", s->init, s->loopback_up, s->hold, s->legacy_mounts);
  for (size_t i = 0; i < s->nops; i++) {
    if (i) fputc(',', out);
    op(out, &s->ops[i]);
  }
  fputc(']', out);
  key(out, "hostname");
  string(out, s->hostname);
}

static void process_fields(FILE *out, const struct mc_spec *s) {
  fprintf(out, ",\"target_pid\":%d,\"join_flags\":%lu,\"cwd\":", (int)s->target_pid, s->join_flags);
  string(out, s->cwd);
  fprintf(out, ",\"uid\":%u,\"gid\":%u,\"groups\":[", (unsigned)s->uid, (unsigned)s->gid);
  for (size_t i = 0; i < s->ngroups; i++) fprintf(out, "%s%u", i ? "," : "", (unsigned)s->groups[i]);
  fprintf(out, "],\"caps\":\"%llu\",\"no_new_privs\":%d,\"seccomp\":", (unsigned long long)s->caps, s->no_new_privs);
  string(out, s->seccomp);
  fprintf(out, ",\"seccomp_flags\":%u,\"env\":", s->seccomp_flags);
  strings(out, (const char *const *)s->env, s->nenv);
  key(out, "argv");
  strings(out, (const char *const *)s->argv, s->nargv);
  fputs(",\"rlimits\":[", out);
  for (size_t i = 0; i < s->nrlimits; i++)
    fprintf(out, "%s{\"resource\":%d,\"soft\":\"%llu\",\"hard\":\"%llu\"}", i ? "," : "", s->rlimits[i].resource, s->rlimits[i].soft, s->rlimits[i].hard);
  fputs("],\"cgroup_procs\":", out);
  strings(out, s->cgroup_procs, s->ncgroup_procs);
  fprintf(out, ",\"cgroupns\":%d,\"userns\":%d", s->cgroupns, s->userns);
  key(out, "cgroup_dir");
  string(out, s->cgroup_dir);
  key(out, "oom_counter");
  string(out, s->oom_counter);
  key(out, "userns_path");
  string(out, s->userns_path);
  for (int u = 1; u >= 0; u--) {
    const struct mc_idmap *m = u ? s->uid_maps : s->gid_maps;
    size_t n = u ? s->nuid_maps : s->ngid_maps;
    fprintf(out, ",\"%s\":[", u ? "uid_maps" : "gid_maps");
    for (size_t i = 0; i < n; i++) fprintf(out, "%s[%u,%u,%u]", i ? "," : "", m[i].inside, m[i].outside, m[i].count);
    fputs("]", out);
  }
}

void mc_spec_dump(const struct mc_spec *s, FILE *out) {
  fprintf(out, "{\"protocol\":%d", MC_PROTOCOL_VERSION);
  run_fields(out, s);
  process_fields(out, s);
  fputs("}\n", out);
  fflush(out);
}
