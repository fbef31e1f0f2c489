/*
 * The container specification the shim receives from Node.
 *
 * Node serialises it as a length-prefixed list of NUL-terminated tokens
 * (see lib/shim/spec.ts); spec.c parses it into this struct.
 * Every field is plain data: all policy (which mounts, which capabilities)
 * is decided in TypeScript, the C side only carries it out.
 */
#ifndef MC_SPEC_H
#define MC_SPEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/*
 * The version of the spec's encoding: lib/shim/spec.ts's SHIM_PROTOCOL_VERSION holds the same
 * number (test/shim/protocol.unit.test.ts reads this line to check). Node sends it as the spec's
 * first token pair, "protocol <n>", and a shim of another version refuses the whole spec at once
 * (step "protocol") instead of acting on keys it may read differently. Bump it with any change to
 * the keys, their values or their meaning, or with a change to how shims are started (6: run shims
 * are forked by `mc-shim zygote <owner> <protocol>`, which checks this number too; 7: the zygote's
 * fork requests carry 'F' or 'E' (exec shims, with their stdio), Node's umask and their fds; 8: the
 * "volatile" key; 9: the "netnslate" key and the message after the spec it announces, and the zygote's 'B' requests for bare run shims;
 * 10: the "prestart" key, the shim's "R" line and the claim message after the spec, see prestart.h;
 * 11: the "oomcounter" key, and the OOM kills as the "X" line's fourth field).
 * Overridable only so that a test can build a shim of another version.
 */
#ifndef MC_PROTOCOL_VERSION
#define MC_PROTOCOL_VERSION 11
#endif

/* Values of the `userns` key. Keep in sync with lib/shim/spec.ts's usernsTokens. */
enum { MC_USERNS_SINGLE = 1, MC_USERNS_RANGE = 2 };

/* Extra mount flags, beyond mount(2)'s own. Keep in sync with MountOp. */
enum {
  MC_SRC_IN_ROOT = 1, /* source is a path inside the container root */
  MC_OPTIONAL = 2,    /* skip silently when the target does not exist */
  MC_FILE = 4,        /* create the target as a file, not a directory */
  MC_READONLY = 8,    /* make the mount (recursively) read-only after mounting */
};

enum mc_op_kind { OP_MOUNT, OP_MKNOD, OP_SYMLINK, OP_MASK, OP_READONLY_PATH, OP_SYSCTL };

struct mc_op {
  enum mc_op_kind kind;
  const char *type;   /* OP_MOUNT: filesystem type, "bind" for bind mounts */
  const char *source; /* OP_MOUNT: source; OP_SYMLINK: link target */
  const char *target; /* path inside the container; OP_SYSCTL: the /proc/sys file */
  unsigned long flags;
  const char *data;   /* OP_MOUNT: mount data; OP_SYSCTL: the value written */
  int extra;          /* MC_* flags */
  mode_t mode;        /* OP_MKNOD */
  unsigned major, minor;
  uid_t uid;          /* OP_MKNOD: the node's owner */
  gid_t gid;
};

/* One line of a user namespace's uid_map or gid_map: `count` ids from `inside` are `outside` in the parent. */
struct mc_idmap {
  unsigned inside, outside, count;
};

/* One setrlimit call; RLIM_INFINITY is all ones. */
struct mc_rlimit {
  int resource;
  unsigned long long soft, hard;
};

struct mc_spec {
  char *blob; /* owns every string below */

  /* run: root filesystem */
  const char *rootfs;     /* mount point of the root (host path) */
  const char **lowers;    /* overlay lower dirs, top first */
  size_t nlowers;
  const char *upper, *work;
  int readonly_root;
  int volatile_upper; /* mount the overlay "volatile": no sync at unmount; it cannot be mounted again as it is */

  /* run: namespaces and process lifetime */
  unsigned long clone_flags;
  int netns_fd;          /* -1: none given */
  const char *netns_path; /* alternatively, a path to open (e.g. /proc/<node pid>/fd/<n>) */
  int netns_late;         /* the path comes after the spec, in a message of its own (netns-late.h) */
  const char *stdio[3];  /* paths opened as the program's fds 0, 1, 2 (append for 1 and 2) */
  const char *log_path;  /* instead of stdio[1] and [2]: pipes the shim copies into this json-file log */
  long long log_max_size; /* rotate past this many bytes; 0: never */
  int log_max_files;      /* files kept, the current one included */
  int detach;
  const char *exit_file; /* where the exit status is recorded */
  int init;              /* run a minimal init as PID 1 */
  int loopback_up;
  int hold; /* set up the filesystem view, then wait instead of exec (for file access to stopped containers) */
  int prestart; /* set up, say ready, then take the process from the claim message and exec (prestart.h) */
  int legacy_mounts; /* test-only: take the fallbacks for kernels without fsconfig "lowerdir+", mount_setattr and statmount */

  struct mc_op *ops;
  size_t nops;
  const char *hostname;

  /* exec: join a running container */
  pid_t target_pid;
  unsigned long join_flags;

  /* both: the process */
  const char *cwd;
  uid_t uid;
  gid_t gid;
  gid_t *groups;
  size_t ngroups;
  uint64_t caps; /* bounding = permitted = effective set for uid 0 */
  int no_new_privs;
  const char *seccomp;     /* hex-encoded struct sock_filter[]; NULL: unconfined */
  unsigned seccomp_flags;  /* SECCOMP_FILTER_FLAG_* */
  char **env;
  size_t nenv;
  char **argv;
  size_t nargv;
  struct mc_rlimit *rlimits;
  size_t nrlimits;

  /*
   * both: rootless, MC_USERNS_SINGLE or MC_USERNS_RANGE (0: none). run: the container is cloned into a
   * user namespace and its overlay mounted with userxattr. SINGLE: the shim unshares one and maps root
   * in it to its own uid and gid alone ("0 <uid> 1", setgroups denied: no helper needed); setgroups is
   * skipped (only gid 0 is mapped anyway). RANGE: the shim joins the runtime keeper's namespace at
   * `userns_path`, mapped once with the caller's subordinate ranges; setgroups works there. exec: the
   * container has one (Node adds CLONE_NEWUSER to the join flags), and the value says which kind.
   */
  int userns;
  const char *userns_path; /* run, with MC_USERNS_RANGE: /proc/<keeper pid>/ns/user */
  /*
   * run: keep-id. The container gets a user namespace nested in the joined one (clone_flags holds
   * CLONE_NEWUSER), whose maps the shim (root in the parent) writes before the child goes on.
   */
  struct mc_idmap *uid_maps, *gid_maps;
  size_t nuid_maps, ngid_maps;

  /* both: cgroups to join (the files to write "0" into: cgroup.procs, or v1's tasks) and whether to then enter a cgroup namespace there */
  const char **cgroup_procs;
  size_t ncgroup_procs;
  int *cgroup_fds; /* opened by mc_cgroups_open */
  /* run, cgroup v2: the cgroup's directory, to clone the child into (CLONE_INTO_CGROUP) instead of its joining */
  const char *cgroup_dir;
  int cgroup_dir_fd;  /* opened by mc_cgroups_open when the child can be cloned into it; -1 otherwise */
  int cgroup_born;    /* in the child: it was cloned into its cgroup, so it has nothing to join */
  const char *oom_counter; /* run: the file whose "oom_kill" line counts the cgroup's OOM kills, read at the exit */
  int cgroupns;
};

/*
 * Reads the spec from fd. A spec of another protocol version fails (mc_fail) at step "protocol"
 * with EPROTO and "shim protocol <ours>, spec protocol <theirs>"; an unreadable one at step "spec".
 */
void mc_spec_read(int fd, struct mc_spec *spec);

/*
 * Reads a claim message (prestart.h) from fd into spec: the process (cwd, identity, capabilities,
 * no_new_privs, seccomp, env, argv, rlimits), the hostname and a late network namespace's path, replacing the spec's. Any other key
 * is refused. Fails via mc_fail (step "claim"): EPIPE when Node closed the socket without one.
 */
void mc_spec_read_process(int fd, struct mc_spec *spec);

/* Test-only (`mc-shim dump-spec`): writes the decoded spec as one JSON object, field names as above. */
void mc_spec_dump(const struct mc_spec *spec, FILE *out);

/* Reads exactly `len` bytes (retrying on EINTR): 0, or -1 at EOF or on an error. */
int mc_read_all(int fd, void *buf, size_t len);

#endif
