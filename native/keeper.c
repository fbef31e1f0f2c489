/*
 * mc-shim keeper <owner pid>: the rootless runtime's user namespace, held
 * for the runtime's life (podman's layout: 0 -> the caller, 1..N -> its
 * subordinate ranges) so that each container start joins it (setns, no
 * helper) instead of paying newuidmap/newgidmap per start.
 *
 * Only setuid helpers may write a map of ids other than one's own, so the
 * keeper unshares CLONE_NEWUSER, says "R", and Node runs newuidmap and
 * newgidmap on its pid, then sends "mapped". From then on the keeper is root
 * in the namespace, with every capability over the files of the mapped ids,
 * and does the file work a user cannot do outside: giving an unpacked
 * layer's files their owners (one batched pass per layer), removing trees
 * that hold files of subordinate ids, a copy's writes in a container
 * directory of another id (an archive's attributes, a bind-mounted file
 * rewritten) and its reads of a file of another id (on directory fds Node
 * resolved and sends).
 *
 * Control channel (fd 3, a stream socket; one request at a time):
 *   request  = u32 length (LE) + NUL-terminated fields: verb, arguments
 *   answer   = "OK[ <detail>]\n" or "E <errno>\t<detail>\n"
 *   verbs    mapped                  the maps are written: check them
 *            chown <dir> <record>... owners and set-id modes of <dir>'s entries (own_entry's records)
 *            rmtree <path>           remove <path> and everything below it
 *            chownat <record>...     with a directory fd: chown's records below it (crossing the
 *                                    container's mounts there, as a root runtime's copy does)
 *            netns                   unshare the runtime's network namespace (once; lo up): Node
 *                                    reaches it as /proc/<keeper>/ns/net, owned by ns/user
 *            mknetns                 a new network namespace for a container, owned by the keeper's
 *                                    user namespace: its fd comes with the "OK\n" (SCM_RIGHTS)
 *            netlink                 rtnetlink and nf_tables sockets of the runtime's network namespace,
 *                                    or, with a netns fd sent along (a container's), of that one:
 *                                    both fds with the "OK\n"
 *            mkdirat <name> <mode>   with a directory fd: mkdirat there (a copy's staging directory)
 *            rmdirat <name>          with a directory fd: its removal
 *            rmtreeat <name>         with a directory fd: <name> and everything below it removed
 *            renameat <from> <to> <flags>  with two directory fds: renameat2 between them
 *            openread <name>         with a directory fd: its regular file or directory <name> opened
 *                                    for reading, the fd with the "OK\n" (a copy out of another id's);
 *                                    <name> "" or "." (openpath too): the fd sent itself
 *            openwrite <name>        with a directory fd: its regular file <name> (not followed) opened for
 *                                    writing and truncated, the fd with the "OK\n" (a bind-mounted file of
 *                                    another id a copy rewrites in place: a mount point cannot be renamed over)
 *            openpath <name>         with a directory fd: <name> itself (O_PATH, not followed: a symlink
 *                                    or FIFO a copy recreates), the fd with the "OK\n"
 *            openin <path> <flags> [<how>]  with a container's (or layer's) root fd: <path> resolved
 *                                    confined below it (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), O_PATH
 *                                    with <flags>' O_NOFOLLOW and O_DIRECTORY only, the fd with the
 *                                    "OK\n" (a copy out through a directory only another id may search);
 *                                    <how> 's': no symlink followed at all (a layer's, read as overlayfs
 *                                    would), 'r': reopened for reading, a regular file or directory only
 *            openeach <how> <name>...  with a directory fd: each single <name> of it opened (at most 32; a
 *                                    tree walk's batch): <how> 'p' O_PATH (a lookup, fstat'ed by Node),
 *                                    'r' for reading (a regular file or directory); "OK <c>...\n", one
 *                                    char per name ('+' its fd attached, in order; '-' missing; '!'
 *                                    refused otherwise: Node opens that one alone for the error)
 *            copymeta <owner>        with two open fds (a staged entry, an existing one): owner (<owner> 1),
 *                                    mode and times of the first given to the second (a copy merging
 *                                    into a directory of another id)
 *            getxattr <name>         with an open file or directory: its user.* attribute <name>
 *                                    (overlay's user.overlay.opaque on a commit's directory only
 *                                    another id may read), hex on the "OK" line (up to 64 KiB)
 *            setxattr <name> <hex>   with an open file or directory: its user.* attribute <name> set
 *                                    to the bytes <hex> (an archive's, on a directory merged into one
 *                                    of another id, or left without write permission by its mode)
 * New verbs (fds sent back with SCM_RIGHTS on the answer...) are additions
 * to this table, not a new channel.
 * EOF on fd 3 (Runtime.close(), or the owner's death) ends the keeper;
 * PDEATHSIG too. The namespace itself lives on in running containers.
 */
#define _GNU_SOURCE
#include "keeper.h"
#include "tree-remove.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "meta-copy.h"
#include "netns-sockets.h"
#include "spec.h"

#define MAX_FIELDS 8
#define MAX_REQUEST (256u << 20) /* a chown request carries a layer's manifest */

static int control = -1;

/* Sends an answer line whole (Node reads up to its newline); nothing when Node is gone. */
static void send_line(const char *line, size_t n) {
  for (size_t sent = 0; sent < n;) {
    ssize_t w = send(control, line + sent, n - sent, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    sent += (size_t)w;
  }
}

static void answer(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void answer(const char *fmt, ...) {
  char line[1200];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof(line) - 2) n = sizeof(line) - 2;
  for (int i = 0; i < n; i++)
    if (line[i] == '\n') line[i] = ' ';
  line[n++] = '\n';
  send_line(line, (size_t)n);
}

static void answer_errno(int err, const char *what, const char *path) {
  answer("E %d\t%s %s", err, what, path);
}

/* "OK\n" with `fds` attached (SCM_RIGHTS), closed here once sent; a channel that cannot take them ends the keeper. */
static void answer_with_fds(int *fds, int n) {
  if (mc_send_fds(control, "OK\n", 3, fds, n) < 0) _exit(1);
  for (int i = 0; i < n; i++) close(fds[i]);
}

/* The fds Node sent with the request being served (at most MAX_PASSED), closed after it. */
#define MAX_PASSED 2
static int passed_fd[MAX_PASSED] = {-1, -1};
static int passed_count = 0;

/* A request's length, and the fds Node may attach to its first bytes (SCM_RIGHTS) into passed_fd. */
static int read_header(uint32_t *len) {
  union {
    char buf[CMSG_SPACE(sizeof(int) * MAX_PASSED)];
    struct cmsghdr align;
  } cbuf;
  struct iovec iov = {.iov_base = len, .iov_len = sizeof(*len)};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf)};
  ssize_t n;
  do n = recvmsg(control, &msg, MSG_WAITALL | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n != (ssize_t)sizeof(*len)) return -1;
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
    passed_count = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    if (passed_count > MAX_PASSED) passed_count = MAX_PASSED;
    memcpy(passed_fd, CMSG_DATA(cm), sizeof(int) * (size_t)passed_count);
  }
  return 0;
}

static void close_passed(void) {
  for (int i = 0; i < passed_count; i++) close(passed_fd[i]);
  passed_fd[0] = passed_fd[1] = -1;
  passed_count = 0;
}

/*
 * The next request: its first fields (pointers into *blob, which the caller frees; at most MAX_FIELDS,
 * the rest are read from *end back), their count, or -1 at EOF; the fds sent with it in passed_fd.
 */
static int read_request(char **blob, char **end, char *fields[MAX_FIELDS]) {
  uint32_t len;
  if (read_header(&len) < 0 || len == 0 || len > MAX_REQUEST) return -1;
  *blob = malloc(len + 1);
  if (!*blob || mc_read_all(control, *blob, len) < 0) return -1;
  (*blob)[len] = 0;
  *end = *blob + len;
  int n = 0;
  for (char *p = *blob; p < *end && n < MAX_FIELDS; p += strlen(p) + 1) fields[n++] = p;
  return n;
}

/* How often a confined resolution spoiled by a concurrent rename is retried: at once, then 1 ms apart (at most ~0.2 s). */
#define OPENAT2_QUICK_TRIES 64
#define OPENAT2_TRIES 256

/* Below a layer's directory: never leaving it, nor following a symlink (the layer's content is untrusted). */
#define IN_LAYER (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)
/*
 * Below a putArchive's landing directory in a container: the same, but across the container's own mounts
 * there (a volume, a tmpfs), whose entries a root runtime's copy gives their owners too. Those mounts are
 * the container's, reached through its root: what the container's root may chown, nothing of the host's.
 */
#define IN_LANDING (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

/* The parent directory of `rel` (resolved from dirfd with openat2's `resolve`), and its last component in *base. */
static int open_parent(int dirfd, const char *rel, const char **base, unsigned long long resolve) {
  const char *slash = strrchr(rel, '/');
  *base = slash ? slash + 1 : rel;
  if (!slash) return dup(dirfd);
  char parent[4096];
  size_t n = (size_t)(slash - rel);
  if (n >= sizeof(parent)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(parent, rel, n);
  parent[n] = 0;
  struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .resolve = resolve};
  return (int)syscall(SYS_openat2, dirfd, parent, &how, sizeof(how));
}

/* Hex digits to bytes; their count, or -1 for a string that is not even-length hex or too long. */
static int unhex(const char *hex, size_t len, unsigned char *out, size_t max) {
  if (len % 2 || len / 2 > max) return -1;
  for (size_t i = 0; i < len / 2; i++) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1) return -1;
    out[i] = (unsigned char)v;
  }
  return (int)(len / 2);
}

/* A regular file's capabilities, set after its owner (a chown clears them); the kernel scopes them to this namespace. */
static int set_caps(int pfd, const char *base, const unsigned char *caps, int n) {
  int fd = openat(pfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  int r = fsetxattr(fd, "security.capability", caps, (size_t)n, 0);
  int saved = errno;
  close(fd);
  errno = saved;
  return r;
}

/*
 * One manifest record (lib/files/owner-ledger.ts): "<uid> <gid> <mode, octal> <caps, hex or -> <path below
 * dir>\0". The owner first, then the mode when it has set-id bits (chown cleared them), then the file's
 * capabilities. An entry gone since (a later whiteout) is skipped.
 */
static int own_entry(int dirfd, const char *record, unsigned long long resolve) {
  unsigned uid, gid, mode;
  int used = 0;
  /* One space before the path, which may itself begin with spaces. */
  if (sscanf(record, "%u %u %o %*s%n", &uid, &gid, &mode, &used) != 3 || record[used] != ' ' || !record[used + 1]) {
    errno = EINVAL;
    return -1;
  }
  /* The caps field: the word that ends where the path's space begins. */
  const char *hex = record + used;
  while (hex > record && hex[-1] != ' ') hex--;
  unsigned char caps[64];
  int ncaps = hex[0] == '-' ? 0 : unhex(hex, (size_t)(record + used - hex), caps, sizeof(caps));
  if (ncaps < 0) {
    errno = EINVAL;
    return -1;
  }
  const char *base;
  int pfd = open_parent(dirfd, record + used + 1, &base, resolve);
  if (pfd < 0) return errno == ENOENT ? 0 : -1;
  int r = fchownat(pfd, base, uid, gid, AT_SYMLINK_NOFOLLOW);
  if (r == 0 && (mode & 06000)) r = mc_chmod_nofollow(pfd, base, mode); /* the set-id bits the chown cleared */
  if (r == 0 && ncaps > 0) r = set_caps(pfd, base, caps, ncaps);
  int saved = errno;
  close(pfd);
  errno = saved;
  return r < 0 && errno != ENOENT ? -1 : 0;
}

/* The records from `p` to `end` below `dirfd` (resolved with `resolve`), one pass; answers how many were done, or the first failure. */
static void own_entries(int dirfd, const char *shown, const char *p, const char *end, unsigned long long resolve) {
  long done = 0;
  for (; p < end; p += strlen(p) + 1, done++)
    if (own_entry(dirfd, p, resolve) < 0) return answer("E %d\tchown %s: %.200s", errno, shown, p);
  answer("OK %ld", done);
}

static void chown_pass(const char *dir, const char *p, const char *end) {
  int dirfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dirfd < 0) return answer_errno(errno, "open", dir);
  own_entries(dirfd, dir, p, end, IN_LAYER);
  close(dirfd);
}

/* Removes `base` in the directory `parent` and everything below it, never following a symlink; answers. */
static void remove_at(int parent, const char *base, const char *shown) {
  if (mc_tree_remove_at(parent, base) < 0) return answer_errno(errno, "remove", shown);
  answer("OK");
}

static void remove_tree(const char *path) {
  const char *base;
  /* A path of the runtime's own store, named by Node: its parents are the user's, whatever they are. */
  int parent = open_parent(AT_FDCWD, path, &base, RESOLVE_NO_MAGICLINKS);
  if (parent < 0) return errno == ENOENT ? answer("OK") : answer_errno(errno, "open parent of", path);
  remove_at(parent, base, path);
  close(parent);
}

/* After newuidmap/newgidmap: root here is the caller, so the keeper has its capabilities over the mapped ids. */
static void check_mapped(void) {
  if (getuid() != 0 || getgid() != 0) return answer("E %d\tuid %u gid %u after mapping (not 0 0)", EPERM, (unsigned)getuid(), (unsigned)getgid());
  answer("OK");
}

/*
 * The rootless runtime's network namespace, made inside the keeper's user namespace so that the keeper's
 * root (the user) administers it: bridges and veths of rootless networks live there, not on the host.
 * Once per keeper: a second request finds it made. Loopback up, as a container's own netns gets it.
 */
static int runtime_netns = -1;

static void hold_netns(void) {
  if (runtime_netns < 0) {
    if (unshare(CLONE_NEWNET) < 0) return answer_errno(errno, "unshare", "(CLONE_NEWNET)");
    runtime_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (runtime_netns < 0) return answer_errno(errno, "open", "/proc/self/ns/net");
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};
    strcpy(ifr.ifr_name, "lo");
    int r = s < 0 ? -1 : ioctl(s, SIOCGIFFLAGS, &ifr);
    if (r == 0) {
      ifr.ifr_flags |= IFF_UP;
      r = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    int err = errno;
    if (s >= 0) close(s);
    if (r < 0) return answer_errno(err, "bring up", "lo");
    /* Routing between the runtime's bridges and its egress (pasta, slirp4netns), as the host does for rootful networks. */
    int fwd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);
    if (fwd < 0 || write(fwd, "1", 1) != 1) {
      err = errno;
      if (fwd >= 0) close(fwd);
      return answer_errno(err, "enable", "net.ipv4.ip_forward");
    }
    close(fwd);
  }
  answer("OK");
}

/*
 * A container's network namespace: unshared here (so the keeper's user namespace owns it, and the
 * runtime's netlink sockets may move a veth end into it), sent to Node, and left for the runtime's.
 */
static void make_netns(void) {
  if (runtime_netns < 0) return answer("E %d\tmknetns before netns", EINVAL);
  if (unshare(CLONE_NEWNET) < 0) return answer_errno(errno, "unshare", "(CLONE_NEWNET)");
  int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  int err = errno;
  /* Back first: every later request (and the next mknetns) starts from the runtime's namespace. */
  if (setns(runtime_netns, CLONE_NEWNET) < 0) {
    answer_errno(errno, "setns back into", "the runtime's network namespace");
    _exit(1);
  }
  if (fd < 0) return answer_errno(err, "open", "/proc/self/ns/net");
  answer_with_fds(&fd, 1);
}

/*
 * rtnetlink and nf_tables sockets of the runtime's network namespace, or (`netns`, an fd Node sent) of
 * another one owned by the keeper's user namespace (a container's), for Node to drive with its netlink
 * code: a socket stays in the namespace it was opened in. One request on the open channel, where a
 * helper process per socket pair cost a spawn. (Node's fd by /proc path would not do: the kernel
 * refuses a process of a child user namespace the /proc fds of one outside it.)
 */
static void send_netlink(int netns) {
  if (runtime_netns < 0) return answer("E %d\tnetlink before netns", EINVAL);
  if (netns >= 0 && setns(netns, CLONE_NEWNET) < 0) return answer_errno(errno, "setns into", "the container's network namespace");
  int fds[2] = {mc_open_netlink(NETLINK_ROUTE), -1};
  if (fds[0] >= 0) fds[1] = mc_open_netlink(NETLINK_NETFILTER);
  int err = errno;
  if (netns >= 0 && setns(runtime_netns, CLONE_NEWNET) < 0) {
    answer_errno(errno, "setns back into", "the runtime's network namespace");
    _exit(1);
  }
  if (fds[1] < 0) {
    if (fds[0] >= 0) close(fds[0]);
    return answer_errno(err, "open netlink sockets in", netns >= 0 ? "the container's network namespace" : "the runtime's network namespace");
  }
  answer_with_fds(fds, 2);
}

/*
 * A copy's writes in a directory of another id inside a container (copyTo, putArchive landing in
 * /home/user of uid 1000): Node resolved the directories itself, confined (openat2 RESOLVE_IN_ROOT
 * below the container's root), and sends their fds; the keeper, root of the namespace, makes the one
 * refused call on them with a single name, never a path, so it resolves nothing itself.
 */
static int one_name(const char *name) {
  return name[0] && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

static void write_at(char **f, int n) {
  int r;
  if (!strcmp(f[0], "mkdirat") && n == 3 && passed_count == 1 && one_name(f[1])) r = mkdirat(passed_fd[0], f[1], (mode_t)strtoul(f[2], NULL, 8) & 07777);
  else if (!strcmp(f[0], "rmdirat") && n == 2 && passed_count == 1 && one_name(f[1])) r = unlinkat(passed_fd[0], f[1], AT_REMOVEDIR);
  else if (!strcmp(f[0], "renameat") && n == 4 && passed_count == 2 && one_name(f[1]) && one_name(f[2]))
    r = (int)syscall(SYS_renameat2, passed_fd[0], f[1], passed_fd[1], f[2], (unsigned)strtoul(f[3], NULL, 10));
  else return answer("E %d\tbad %s request (%d fields, %d fds)", EINVAL, f[0], n, passed_count);
  if (r < 0) return answer_errno(errno, f[0], f[1]);
  answer("OK");
}

/*
 * The O_PATH fd `pfd` (closed here) reopened through /proc/self/fd: for reading a regular file or a
 * directory, for writing (truncated) a regular file only (opening a FIFO would block, a device could
 * act), as libmcnative's open_regular does: the new fd, or -1 with errno set. answer_readable answers
 * with a readable one, or the failure naming `name`.
 */
static int reopen_checked(int pfd, int for_writing) {
  struct stat st;
  int fd = -1, err = 0;
  if (fstat(pfd, &st) < 0) err = errno;
  else if (!S_ISREG(st.st_mode) && (for_writing || !S_ISDIR(st.st_mode))) err = EINVAL;
  else {
    char self[64];
    snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
    int access = for_writing ? O_WRONLY | O_TRUNC : O_RDONLY | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0);
    fd = open(self, access | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) err = errno;
  }
  close(pfd);
  errno = err;
  return fd;
}

/*
 * A copy's rewrite in place of a bind-mounted file of another id (the container's /data/m/cfg, 0600 of 999, in a
 * directory only 999 may search): a mount point cannot be renamed over (EBUSY), so a root runtime's copy writes
 * the file itself, as Node then does on the fd sent back. A regular file only, reached by a single name without
 * following a symlink, reopened through its O_PATH fd.
 */
static void open_write(char **f, int n) {
  if (n != 2 || passed_count != 1 || !one_name(f[1])) return answer("E %d\tbad %s request (%d fields, %d fds)", EINVAL, f[0], n, passed_count);
  int pfd = openat(passed_fd[0], f[1], O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (pfd < 0) return answer_errno(errno, "open", f[1]);
  int fd = reopen_checked(pfd, 1);
  if (fd < 0) return answer_errno(errno, "open for writing", f[1]);
  answer_with_fds(&fd, 1);
}

static void answer_readable(int pfd, const char *name) {
  int fd = reopen_checked(pfd, 0);
  if (fd < 0) return answer_errno(errno, "open for reading", name);
  answer_with_fds(&fd, 1);
}

/*
 * A copy's reads of another id's files inside a container (copyFrom of a 0600 file or a 0700 directory of
 * uid 999): Node resolved the directory, confined, and sends its fd; the keeper opens the single name
 * there without following a symlink. openread: a regular file or a directory only (opening a FIFO would
 * block, a device could act), reopened for reading through its O_PATH fd, as libmcnative's open_regular
 * does; openpath: the O_PATH fd itself (a symlink read with readlinkat, a FIFO's mode). Node reads the fd
 * it gets back: an open file or directory is read without any further permission check.
 */
static void open_read(char **f, int n) {
  /* "" or ".": the fd sent itself (a directory whose contents are copied, "/.", or what openin resolved). */
  int self = !f[1][0] || !strcmp(f[1], ".");
  if (n != 2 || passed_count != 1 || !(self || one_name(f[1]))) return answer("E %d\tbad %s request (%d fields, %d fds)", EINVAL, f[0], n, passed_count);
  int pfd = self ? fcntl(passed_fd[0], F_DUPFD_CLOEXEC, 0) : openat(passed_fd[0], f[1], O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (pfd < 0) return answer_errno(errno, "open", f[1]);
  if (!strcmp(f[0], "openpath")) return answer_with_fds(&pfd, 1);
  answer_readable(pfd, f[1]);
}

/*
 * A copy out through a directory only another id may search (copyFrom('/data/d/e/f') with /data/d 0700
 * of uid 999): Node cannot resolve the path, so the keeper does, from the container's root fd Node sends,
 * confined as Node's own resolution is: RESOLVE_IN_ROOT keeps "..", absolute symlinks and symlink chains
 * below that root, RESOLVE_NO_MAGICLINKS refuses /proc/<pid>/fd-style links out. An O_PATH fd comes back
 * (Node reads through openread on it, as for any other id's file), or with 'r' the file or directory
 * opened for reading at once: a build reading a stage's layer (RESOLVE_NO_SYMLINKS too, 's', as overlayfs
 * reads each layer) opens each file of a tree in one request.
 */
static void open_in(char **f, int n) {
  if ((n != 3 && n != 4) || passed_count != 1 || !f[1][0]) return answer("E %d\tbad %s request (%d fields, %d fds)", EINVAL, f[0], n, passed_count);
  const char *how_opts = n == 4 ? f[3] : "";
  struct open_how how = {
    .flags = O_PATH | O_CLOEXEC | (strtoull(f[2], NULL, 10) & (O_NOFOLLOW | O_DIRECTORY)),
    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | (strchr(how_opts, 's') ? RESOLVE_NO_SYMLINKS : 0),
  };
  /* A ".." fails with EAGAIN when a rename or mount anywhere on the system may have raced with the lookup:
   * tried again, as libmcnative's mc_openat2 does for Node's own resolution (a busy host does this constantly).
   * Past a few quick tries, 1 ms apart: a lookup preempted on a loaded machine meets a rename each time. */
  int fd, tries = 0;
  for (;;) {
    fd = (int)syscall(SYS_openat2, passed_fd[0], f[1], &how, sizeof(how));
    if (fd >= 0 || errno != EAGAIN || ++tries >= OPENAT2_TRIES) break;
    if (tries > OPENAT2_QUICK_TRIES) usleep(1000);
  }
  if (fd < 0) return answer_errno(errno, "open", f[1]);
  if (strchr(how_opts, 'r')) return answer_readable(fd, f[1]);
  answer_with_fds(&fd, 1);
}

/*
 * A walk of a layer's directory only another id may search or read (a rootless build's COPY --from of a
 * stage's tree): the entries of the directory fd Node sent (itself resolved confined, by openin) opened
 * by single names, never following a symlink, up to 32 per request instead of one request each.
 */
#define OPEN_EACH_MAX 32
static void open_each(char **f, int n, char *end) {
  if (n < 3 || passed_count != 1 || (strcmp(f[1], "p") && strcmp(f[1], "r"))) return answer("E %d\tbad %s request (%d fields, %d fds)", EINVAL, f[0], n, passed_count);
  int fds[OPEN_EACH_MAX], got = 0, count = 0;
  char marks[OPEN_EACH_MAX + 1];
  for (char *name = f[2]; name < end; name += strlen(name) + 1) {
    if (count == OPEN_EACH_MAX || !one_name(name)) {
      for (int i = 0; i < got; i++) close(fds[i]);
      return answer("E %d\tbad %s request (a name that is not one, or over %d)", EINVAL, f[0], OPEN_EACH_MAX);
    }
    int fd = openat(passed_fd[0], name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 && f[1][0] == 'r') fd = reopen_checked(fd, 0);
    marks[count++] = fd >= 0 ? '+' : errno == ENOENT ? '-' : '!';
    if (fd >= 0) fds[got++] = fd;
  }
  marks[count] = 0;
  char text[OPEN_EACH_MAX + 8];
  int len = snprintf(text, sizeof(text), "OK %s\n", marks);
  if (!got) return answer("OK %s", marks);
  if (mc_send_fds(control, text, (size_t)len, fds, got) < 0) _exit(1);
  for (int i = 0; i < got; i++) close(fds[i]);
}

/*
 * A merge's last step on a directory of another id that existed (copyTo of a tree onto /data/d/tree of
 * uid 999): the directory takes the staged one's owner, mode and times, as a root runtime's copy gives
 * it. Node opened both (the staged one its own, the existing one confined, through openin/openread);
 * only the fds are used. Set-id bits go with the mode, as fchmod gives them; no file capabilities.
 */
static void copy_meta(char **f, int n) {
  if (n != 2 || passed_count != 2) return answer("E %d\tbad %s request (%d fields, %d fds)", EINVAL, f[0], n, passed_count);
  const char *failed = mc_meta_copy(passed_fd[0], passed_fd[1], !strcmp(f[1], "1") ? MC_META_OWNER : 0);
  if (failed) return answer_errno(errno, failed, strcmp(failed, "fstat") ? "(destination)" : "(staged)");
  answer("OK");
}

/*
 * A commit's reads of user.* attributes of a file or directory only another id inside may read (an opaque
 * directory's user.overlay.opaque, remade 0700 by uid 999): the kernel checks read permission for user.*
 * attributes as for the data, even through an open fd, so the keeper reads them on the fd Node opened.
 * user.* only (trusted.* are not the namespace's to read, security.* need no permission). The value, up
 * to the kernel's 64 KiB, goes as hex on the "OK" line: one line longer than answer()'s, sent whole.
 */
#define XATTR_VALUE_MAX 65536 /* the kernel's XATTR_SIZE_MAX */
static void get_xattr(char **f, int n) {
  if (n != 2 || passed_count != 1 || strncmp(f[1], "user.", 5)) return answer("E %d\tbad %s request (%d fields, %d fds)", EINVAL, f[0], n, passed_count);
  static unsigned char value[XATTR_VALUE_MAX];
  ssize_t len = fgetxattr(passed_fd[0], f[1], value, sizeof(value));
  if (len < 0) return answer_errno(errno, "fgetxattr", f[1]);
  static char line[3 + 2 * XATTR_VALUE_MAX + 1];
  static const char digits[] = "0123456789abcdef";
  memcpy(line, "OK ", 3);
  size_t at = 3;
  for (ssize_t i = 0; i < len; i++) {
    line[at++] = digits[value[i] >> 4];
    line[at++] = digits[value[i] & 15];
  }
  line[at++] = '\n';
  send_line(line, at);
}

/*
 * An archive's user.* attribute on a directory or file the user may not write as its owner would (a directory
 * merged into one of another id, given the archive's mode 0500 first): root of the namespace writes it on the
 * fd Node opened, as a root runtime's extraction does with CAP_DAC_OVERRIDE. user.* only, as getxattr.
 */
static void set_xattr(char **f, int n) {
  if (n != 3 || passed_count != 1 || strncmp(f[1], "user.", 5)) return answer("E %d\tbad %s request (%d fields, %d fds)", EINVAL, f[0], n, passed_count);
  static unsigned char value[XATTR_VALUE_MAX];
  int len = unhex(f[2], strlen(f[2]), value, sizeof(value));
  if (len < 0) return answer("E %d\tbad %s value for %.100s", EINVAL, f[0], f[1]);
  if (fsetxattr(passed_fd[0], f[1], value, (size_t)len, 0) < 0) return answer_errno(errno, "fsetxattr", f[1]);
  answer("OK");
}

/*
 * A copy that replaced another id's non-empty directory with a file (RENAME_EXCHANGE into the landing
 * directory): the old directory now sits in the copy's stage, and its entries are another id's to
 * remove. Only the fd Node sent (the stage, resolved confined) and a single name are used.
 */
static void remove_tree_at(char **f, int n) {
  if (n != 2 || passed_count != 1 || !one_name(f[1])) return answer("E %d\tbad %s request (%d fields, %d fds)", EINVAL, f[0], n, passed_count);
  remove_at(passed_fd[0], f[1], f[1]);
}

static __attribute__((noreturn)) void serve(void) {
  for (;;) {
    char *blob = NULL, *end = NULL, *f[MAX_FIELDS] = {0};
    int n = read_request(&blob, &end, f);
    if (n <= 0) _exit(0); /* Node closed the channel, or died */
    if (!strcmp(f[0], "mapped") && n == 1) check_mapped();
    else if (!strcmp(f[0], "chown") && n >= 2) chown_pass(f[1], n > 2 ? f[2] : end, end);
    /* A putArchive's landing directory (its fd, resolved confined), once merged: the archive's owners, each record below it (IN_LANDING: across the container's mounts there). */
    else if (!strcmp(f[0], "chownat") && passed_count == 1) own_entries(passed_fd[0], "(landing directory)", n > 1 ? f[1] : end, end, IN_LANDING);
    else if (!strcmp(f[0], "rmtree") && n == 2 && f[1][0] == '/') remove_tree(f[1]);
    else if (!strcmp(f[0], "netns") && n == 1) hold_netns();
    else if (!strcmp(f[0], "mknetns") && n == 1) make_netns();
    else if (!strcmp(f[0], "netlink") && n == 1) send_netlink(passed_count == 1 ? passed_fd[0] : -1);
    else if (!strcmp(f[0], "mkdirat") || !strcmp(f[0], "rmdirat") || !strcmp(f[0], "renameat")) write_at(f, n);
    else if (!strcmp(f[0], "openread") || !strcmp(f[0], "openpath")) open_read(f, n);
    else if (!strcmp(f[0], "openin")) open_in(f, n);
    else if (!strcmp(f[0], "openwrite")) open_write(f, n);
    else if (!strcmp(f[0], "getxattr")) get_xattr(f, n);
    else if (!strcmp(f[0], "setxattr")) set_xattr(f, n);
    else if (!strcmp(f[0], "rmtreeat")) remove_tree_at(f, n);
    else if (!strcmp(f[0], "copymeta")) copy_meta(f, n);
    else if (!strcmp(f[0], "openeach")) open_each(f, n, end);
    else answer("E %d\tunknown request %.40s", EINVAL, f[0]);
    free(blob);
    close_passed();
  }
}

int mc_keeper(int fd, pid_t owner) {
  control = fd;
  /* Owned by the Node process that spawned it: gone with it, even before EOF reaches us. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != owner) _exit(1);
  if (chdir("/") < 0) _exit(1);
  /* rmtree holds an fd per directory level. */
  struct rlimit files;
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  if (unshare(CLONE_NEWUSER) < 0) {
    answer("E %d\tunshare(CLONE_NEWUSER)", errno);
    return 1;
  }
  answer("R");
  serve();
}
