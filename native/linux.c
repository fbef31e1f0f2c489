/*
 * The container's view of the system: root filesystem, mounts, pivot_root,
 * hostname and loopback. Runs in the cloned child, inside its new mount
 * namespace, before the process is exec'd.
 *
 * Every target path comes from an untrusted image, so targets are resolved
 * inside the root with openat2(RESOLVE_IN_ROOT) and mounted through
 * /proc/self/fd/N: a symlink in the image can never redirect a mount onto
 * the host.
 */
#define _GNU_SOURCE
#include "linux.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "netns-late.h"
#include "old-root.h"
#include "report.h"
#include "steps.h"

static int root_fd = -1;

static int openat2_in_root(const char *path, int flags) {
  struct open_how how = {.flags = (uint64_t)flags | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  return (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
}

static const char *fd_path(int fd, char *buf, size_t len) {
  snprintf(buf, len, "/proc/self/fd/%d", fd);
  return buf;
}

/*
 * Creates the single component `name` in `parent` (an O_PATH fd resolved inside the root), as a file
 * or a directory, and opens it as O_PATH, never following a symlink swapped in meanwhile.
 */
static int create_in(int parent, const char *name, int as_file) {
  if (as_file) {
    int created = openat(parent, name, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (created >= 0) close(created);
  } else if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST) {
    return -1;
  }
  struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  return (int)syscall(SYS_openat2, parent, name, &how, sizeof(how));
}

/*
 * The usual case of a missing target: its parent exists (/dev/pts, /sys/fs/cgroup/<controller>,
 * a volume's mount point). Resolving the parent inside the root and creating the last component
 * in it is what the walk below ends with, without resolving every prefix again (4 to 10 system
 * calls fewer per target). -1 with ENOENT when the parent is missing too: the walk makes it.
 */
static int create_under_existing_parent(const char *path, int as_file) {
  char parent_path[4096];
  size_t len = strlen(path);
  while (len > 1 && path[len - 1] == '/') len--; /* "a/b/" names b */
  if (len >= sizeof(parent_path)) return errno = ENAMETOOLONG, -1;
  memcpy(parent_path, path, len);
  parent_path[len] = 0;
  char *slash = strrchr(parent_path, '/');
  if (!slash) return errno = ENOENT, -1;
  const char *name = slash + 1;
  if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) return errno = ENOENT, -1;
  *slash = 0;
  int parent = openat2_in_root(*parent_path ? parent_path : "/", O_PATH);
  if (parent < 0) return -1;
  int fd = create_in(parent, name, as_file);
  int e = errno;
  close(parent);
  errno = e;
  return fd;
}

/*
 * Opens path (inside the root) as O_PATH, creating missing directories on
 * the way, and the last component as a file when as_file is set.
 * Each component is created relative to its already-resolved parent, so a
 * component swapped for a symlink cannot escape the root.
 */
static int ensure_path(const char *path, int as_file) {
  int fd = openat2_in_root(path, O_PATH);
  if (fd >= 0 || errno != ENOENT) return fd;
  fd = create_under_existing_parent(path, as_file);
  if (fd >= 0 || errno != ENOENT) return fd;

  char buf[4096];
  if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) return errno = ENAMETOOLONG, -1;
  struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  int parent = dup(root_fd);
  char *part = buf;
  while (*part) {
    while (*part == '/') part++;
    if (!*part) break;
    char *end = strchrnul(part, '/');
    int last = end[strspn(end, "/")] == 0;
    char saved = *end;
    /* Resolve each prefix from the root again, so ".." and absolute links stay confined. */
    *end = 0;
    int child = (int)syscall(SYS_openat2, root_fd, buf, &how, sizeof(how));
    if (child < 0 && errno == ENOENT) child = create_in(parent, part, last && as_file);
    *end = saved;
    int e = errno;
    close(parent);
    if (child < 0) return errno = e, -1;
    parent = child;
    part = end;
  }
  return parent;
}

/* The per-mount flags a mount has now, as mount(2) flags. */
static unsigned long mount_flags_of(const char *path) {
  static const struct { unsigned long st, ms; } map[] = {
    {ST_NOSUID, MS_NOSUID}, {ST_NODEV, MS_NODEV}, {ST_NOEXEC, MS_NOEXEC},
    {ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME},
  };
  struct statvfs sv;
  unsigned long flags = 0;
  if (statvfs(path, &sv) < 0) mc_fail("mount readonly", errno, "statvfs %s", path);
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
    if (sv.f_flag & map[i].st) flags |= map[i].ms;
  return flags;
}

/* The spec's legacy_mounts: take the paths of kernels that lack the new mount API (tests force them). */
static int legacy_mounts;

static void make_readonly(const char *target, const char *path) {
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
  if (!legacy_mounts) {
    if (mount_setattr(AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof(attr)) == 0) return;
    if (errno != ENOSYS) mc_fail("mount readonly", errno, "%s", target);
  }
  /* Before 5.12: remount read-only (this mount only, not the ones below it), keeping the flags it has:
     a bind remount sets all of them, so leaving nosuid/nodev/noexec out would clear them. */
  if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | mount_flags_of(path), NULL) < 0)
    mc_fail("mount readonly", errno, "%s", target);
}

/* The fd opened before mounting names the covered dentry; reopen to reach the new mount. */
static void readonly_after_mount(const char *target) {
  char buf[64];
  int fd = openat2_in_root(target, O_PATH);
  if (fd < 0) mc_fail("mount readonly", errno, "%s", target);
  make_readonly(target, fd_path(fd, buf, sizeof(buf)));
  close(fd);
}

static int is_dir_fd(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

static void do_mount(const struct mc_op *op) {
  char src_buf[64], dst_buf[64];
  int is_bind = !strcmp(op->type, "bind");
  const char *source = op->source;
  int src_fd = -1;

  if (is_bind && (op->extra & MC_SRC_IN_ROOT)) {
    src_fd = openat2_in_root(op->source, O_PATH);
    if (src_fd < 0) mc_fail("mount source", errno, "%s", op->source);
    source = fd_path(src_fd, src_buf, sizeof(src_buf));
  }
  int as_file = (op->extra & MC_FILE) != 0;
  if (is_bind && !as_file && src_fd < 0) {
    struct stat st;
    if (stat(op->source, &st) < 0) mc_fail("mount source", errno, "%s", op->source);
    as_file = !S_ISDIR(st.st_mode);
  }
  int dst_fd = (op->extra & MC_OPTIONAL) ? openat2_in_root(op->target, O_PATH) : ensure_path(op->target, as_file);
  if (dst_fd < 0) {
    if ((op->extra & MC_OPTIONAL) && errno == ENOENT) return;
    mc_fail("mount target", errno, "%s", op->target);
  }
  const char *target = fd_path(dst_fd, dst_buf, sizeof(dst_buf));
  unsigned long flags = is_bind ? (MS_BIND | MS_REC | op->flags) : op->flags;
  const char *data = op->data && *op->data ? op->data : NULL;
  if (mount(is_bind ? source : op->source, target, is_bind ? NULL : op->type, flags, data) < 0)
    mc_fail("mount", errno, "%s on %s (%s)", op->source, op->target, op->type);
  close(dst_fd);
  if (op->extra & MC_READONLY) readonly_after_mount(op->target);
  if (src_fd >= 0) close(src_fd);
}

/*
 * Docker's masked paths: files hidden behind /dev/null, directories behind an
 * empty read-only tmpfs. The /dev/null is the container's own (made in its
 * tmpfs /dev), never the host's: a root process inside could otherwise chmod
 * or chown the host's device through /proc/keys.
 */
static void do_mask(const struct mc_op *op) {
  char buf[64], null_buf[64];
  int fd = openat2_in_root(op->target, O_PATH);
  if (fd < 0) {
    if (errno == ENOENT) return;
    mc_fail("mask", errno, "%s", op->target);
  }
  const char *target = fd_path(fd, buf, sizeof(buf));
  int r;
  if (is_dir_fd(fd)) {
    r = mount("tmpfs", target, "tmpfs", MS_RDONLY, "size=0");
  } else {
    int null_fd = openat2_in_root("/dev/null", O_PATH);
    if (null_fd < 0) mc_fail("mask", errno, "/dev/null inside the container");
    r = mount(fd_path(null_fd, null_buf, sizeof(null_buf)), target, NULL, MS_BIND, NULL);
    close(null_fd);
  }
  if (r < 0) mc_fail("mask", errno, "%s", op->target);
  close(fd);
}

static void do_readonly_path(const struct mc_op *op) {
  char buf[64];
  int fd = openat2_in_root(op->target, O_PATH);
  if (fd < 0) {
    if (errno == ENOENT) return;
    mc_fail("readonly path", errno, "%s", op->target);
  }
  const char *target = fd_path(fd, buf, sizeof(buf));
  if (mount(target, target, NULL, MS_BIND | MS_REC, NULL) < 0) mc_fail("readonly path", errno, "%s", op->target);
  close(fd);
  readonly_after_mount(op->target);
}

/*
 * A namespaced kernel parameter (`--sysctl`), written through the container's
 * own /proc while the shim is in its namespaces (the network one already
 * joined), so it sets the container's value, never the host's; before the
 * read-only /proc/sys, as runc does.
 */
static void do_sysctl(const struct mc_op *op) {
  int fd = openat2_in_root(op->target, O_WRONLY);
  if (fd < 0) mc_fail("sysctl", errno, "%s", op->target);
  size_t len = strlen(op->data);
  if (write(fd, op->data, len) != (ssize_t)len) mc_fail("sysctl", errno, "%s = %s", op->target, op->data);
  close(fd);
}

/*
 * A device node, as runc makes one: its parent resolved inside the root (and
 * made when missing, since a `devices` path may be anywhere), the node made
 * with the exact mode and owner; a path that already exists is left as it is.
 */
static void do_mknod(const struct mc_op *op) {
  char dir[4096];
  if (snprintf(dir, sizeof(dir), "%s", op->target) >= (int)sizeof(dir)) mc_fail("mknod", ENAMETOOLONG, "%s", op->target);
  char *slash = strrchr(dir, '/');
  const char *name = slash ? slash + 1 : dir;
  if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) mc_fail("mknod", EINVAL, "%s", op->target);
  if (slash) *slash = 0;
  int parent = ensure_path(*dir ? dir : "/", 0);
  if (parent < 0) mc_fail("mknod", errno, "parent of %s", op->target);
  /* An O_PATH fd is enough for *at calls; the name is a single component, so nothing below can redirect it. */
  if (mknodat(parent, name, op->mode, makedev(op->major, op->minor)) < 0) {
    if (errno != EEXIST) mc_fail("mknod", errno, "%s", op->target);
  } else if (fchmodat(parent, name, op->mode & 07777, 0) < 0 || fchownat(parent, name, op->uid, op->gid, AT_SYMLINK_NOFOLLOW) < 0) {
    mc_fail("mknod", errno, "chmod/chown %s", op->target);
  }
  close(parent);
}

static void do_symlink(const struct mc_op *op) {
  char rel[4096];
  snprintf(rel, sizeof(rel), ".%s", op->target);
  if (symlinkat(op->source, root_fd, rel) < 0 && errno != EEXIST) mc_fail("symlink", errno, "%s", op->target);
}

/*
 * Redirects and metacopy off whatever the module's defaults (/sys/module/overlay/parameters, which
 * some distributions turn on): with them an upper dir holds renamed dirs as redirect xattrs and
 * chmodded files without their data, and its layer (commit, build: tar or adopted dir) would be
 * wrong. Both options exist since 4.19 (the minimum kernel is 5.10). userxattr (rootless) turns
 * both off itself and refuses redirect_dir=off (it forces "nofollow"), so only metacopy is named.
 * Pairs of name and value, ended by NULL.
 */
static const char *const *overlay_options_off(const struct mc_spec *s) {
  static const char *const root[] = {"redirect_dir", "off", "metacopy", "off", NULL};
  static const char *const userxattr[] = {"metacopy", "off", NULL};
  return s->userns ? userxattr : root;
}

static int mount_overlay_new_api(const struct mc_spec *s, int volatile_upper) {
  int fs = fsopen("overlay", FSOPEN_CLOEXEC);
  if (fs < 0) return -1;
  if (fsconfig(fs, FSCONFIG_SET_STRING, "source", "overlay", 0) < 0) goto fail;
  for (size_t i = 0; i < s->nlowers; i++)
    if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", s->lowers[i], 0) < 0) goto fail;
  if (fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", s->upper, 0) < 0) goto fail;
  if (fsconfig(fs, FSCONFIG_SET_STRING, "workdir", s->work, 0) < 0) goto fail;
  /* In a user namespace trusted.* xattrs are EPERM: without user.* ones, renaming a lower directory is EIO. */
  if (s->userns && fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0) goto fail;
  for (const char *const *o = overlay_options_off(s); *o; o += 2)
    if (fsconfig(fs, FSCONFIG_SET_STRING, o[0], o[1], 0) < 0) goto fail;
  if (volatile_upper && fsconfig(fs, FSCONFIG_SET_FLAG, "volatile", NULL, 0) < 0) goto fail;
  if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) goto fail;
  int mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
  if (mnt < 0) goto fail;
  int r = move_mount(mnt, "", AT_FDCWD, s->rootfs, MOVE_MOUNT_F_EMPTY_PATH);
  int e = errno;
  close(mnt);
  close(fs);
  errno = e;
  return r;
fail:
  e = errno;
  close(fs);
  errno = e;
  return -1;
}

/* The length of the directory part of `path` (up to its last '/'), or 0 without one. */
static size_t dir_length(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? (size_t)(slash - path) : 0;
}

/*
 * When every lower dir sits in one directory (the store's short layer names,
 * lib/image/layers.ts mountPath), the directory to mount from, so that the
 * option string names them by their short base names: it holds a page, and
 * full paths would fit about 35 layers. The overlay resolves relative lower
 * dirs from the caller's working directory, as Docker's overlay2 relies on.
 */
static int lowers_common_dir(const struct mc_spec *s, char *dir, size_t size) {
  size_t len = dir_length(s->lowers[0]);
  if (len == 0 || len >= size) return 0;
  for (size_t i = 1; i < s->nlowers; i++)
    if (dir_length(s->lowers[i]) != len || strncmp(s->lowers[i], s->lowers[0], len)) return 0;
  memcpy(dir, s->lowers[0], len);
  dir[len] = 0;
  return 1;
}

/* Kernels before 6.8 lack "lowerdir+": fall back to the option string (limited to a page). */
static int mount_overlay_legacy(const struct mc_spec *s, int volatile_upper) {
  char dir[PATH_MAX];
  int relative = lowers_common_dir(s, dir, sizeof(dir)) && chdir(dir) == 0;
  size_t skip = relative ? strlen(dir) + 1 : 0;
  size_t len = 120 + strlen(s->upper) + strlen(s->work);
  for (size_t i = 0; i < s->nlowers; i++) len += strlen(s->lowers[i]) + 1;
  char *opts = malloc(len);
  if (!opts) return -1;
  char *p = opts + sprintf(opts, "lowerdir=");
  for (size_t i = 0; i < s->nlowers; i++) p += sprintf(p, "%s%s", i ? ":" : "", s->lowers[i] + skip);
  p += sprintf(p, ",upperdir=%s,workdir=%s%s", s->upper, s->work, s->userns ? ",userxattr" : "");
  for (const char *const *o = overlay_options_off(s); *o; o += 2) p += sprintf(p, ",%s=%s", o[0], o[1]);
  if (volatile_upper) p += sprintf(p, ",volatile");
  int r = mount("overlay", s->rootfs, "overlay", 0, opts);
  int e = errno;
  free(opts);
  if (relative && chdir("/") < 0) return -1;
  errno = e;
  return r;
}

static int mount_overlay(const struct mc_spec *s, int volatile_upper) {
  if (!legacy_mounts && mount_overlay_new_api(s, volatile_upper) == 0) return 0;
  return mount_overlay_legacy(s, volatile_upper);
}

/*
 * A volatile overlay (s->volatile_upper: a container never mounted again) skips the sync of the
 * upper filesystem at unmount, which writes back the whole host filesystem's dirty data. A kernel
 * that refuses the option (EINVAL; it came in 5.10) mounts it without: only the unmount is slower.
 */
static void mount_rootfs(const struct mc_spec *s) {
  if (s->nlowers > 0) {
    if (mount_overlay(s, s->volatile_upper) < 0 && !(s->volatile_upper && errno == EINVAL && mount_overlay(s, 0) == 0))
      mc_fail("mount rootfs", errno, "overlay on %s", s->rootfs);
  } else if (mount(s->rootfs, s->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) {
    mc_fail("mount rootfs", errno, "%s", s->rootfs);
  }
}

/*
 * Docker's init layer makes /etc/mtab a symlink to /proc/mounts (df and mount read it). Done after
 * pivot_root, so that whatever /etc is in the image, the link is made inside the container's own root.
 * An image that has its own /etc/mtab, or no /etc, keeps what it has.
 */
static void link_mtab(void) {
  struct stat st;
  if (lstat("/etc/mtab", &st) == 0) return;
  if (symlink("/proc/mounts", "/etc/mtab") < 0 && errno != ENOENT && errno != EEXIST && errno != EROFS)
    mc_fail("symlink", errno, "/etc/mtab");
}

/* Whether an op shows or changes the container's network namespace: sysfs (/sys/class/net is the mounter's namespace) and sysctls (net.*). */
static int needs_netns(const struct mc_op *op) {
  return op->kind == OP_SYSCTL || (op->kind == OP_MOUNT && op->type && !strcmp(op->type, "sysfs"));
}

static void do_op(const struct mc_op *op) {
  if (needs_netns(op)) mc_netns_late_join();
  switch (op->kind) {
    case OP_MOUNT: do_mount(op); break;
    case OP_MKNOD: do_mknod(op); break;
    case OP_SYMLINK: do_symlink(op); break;
    case OP_MASK: do_mask(op); break;
    case OP_READONLY_PATH: do_readonly_path(op); break;
    case OP_SYSCTL: do_sysctl(op); break;
  }
}

/* Where the spec's ops are all masked and read-only paths to the end (the defaults put them last), or nops. */
static size_t protection_start(const struct mc_spec *s) {
  size_t i = s->nops;
  while (i > 0 && (s->ops[i - 1].kind == OP_MASK || s->ops[i - 1].kind == OP_READONLY_PATH)) i--;
  return i;
}

/*
 * pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only the container's.
 * The helper detaches it while we go on (old-root.c); mc_old_root_await() holds the exec until it is
 * gone. Until then it is out of reach of paths: a walk from our root never crosses a mount stacked on
 * it. Done before the masked and read-only paths, which the detach then overlaps: they name nothing
 * outside the root (/proc/self/fd is the container's own /proc by then, the spec's first mount).
 */
static void pivot(const struct mc_spec *s) {
  /* The late namespace's path is a host path: the last moment it can be opened. */
  mc_netns_late_join();
  mc_step(MC_STEP_MOUNTS);
  mc_old_root_note(legacy_mounts);
  if (fchdir(root_fd) < 0) mc_fail("chdir rootfs", errno, "%s", s->rootfs);
  if (syscall(SYS_pivot_root, ".", ".") < 0) mc_fail("pivot_root", errno, "%s", s->rootfs);
  mc_old_root_hand_over(root_fd);
  if (chdir("/") < 0) mc_fail("chdir", errno, "/");
}

void mc_setup_rootfs(const struct mc_spec *s) {
  legacy_mounts = s->legacy_mounts;
  /* Nothing we mount may propagate back to the host. */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) mc_fail("make / private", errno, "/");
  mount_rootfs(s);
  root_fd = open(s->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) mc_fail("open rootfs", errno, "%s", s->rootfs);

  size_t protection = protection_start(s);
  for (size_t i = 0; i < protection; i++) do_op(&s->ops[i]);
  pivot(s);
  for (size_t i = protection; i < s->nops; i++) do_op(&s->ops[i]);
  close(root_fd);
  root_fd = -1;
  link_mtab();
  if (s->readonly_root && mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
    mc_fail("readonly rootfs", errno, "/");
  mc_step(MC_STEP_PIVOT_ROOT);
}

int mc_try_loopback_up(const char **step) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return *step = "socket", -1;
  struct ifreq ifr = {0};
  snprintf(ifr.ifr_name, IFNAMSIZ, "lo");
  *step = "get flags";
  int r = ioctl(sock, SIOCGIFFLAGS, &ifr);
  if (r == 0) {
    ifr.ifr_flags |= IFF_UP;
    *step = "set flags";
    r = ioctl(sock, SIOCSIFFLAGS, &ifr);
  }
  int e = errno;
  close(sock);
  errno = e;
  return r;
}

void mc_loopback_up(void) {
  const char *step;
  if (mc_try_loopback_up(&step) < 0) mc_fail("loopback", errno, "%s", step);
}
