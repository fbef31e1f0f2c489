/*
 * mc-shim probe-userns: can this caller have what a rootless container needs?
 *
 * Node cannot answer that itself: a threaded process gets EINVAL from
 * unshare(CLONE_NEWUSER), and an unshare that succeeds proves little (Ubuntu's
 * AppArmor lets the namespace be made, then denies mounts in it). So the
 * single-threaded shim does it for real, in itself, and exits: each step is
 * one line "<step> <errno>" on fd 3 (0 when it worked), and the first failing
 * step is the last line. Its namespaces die with it; nothing is left behind.
 *
 *   userns    unshare(CLONE_NEWUSER)
 *   idmap     setgroups deny, then map root to the caller (uid_map, gid_map)
 *   mountns   unshare(CLONE_NEWNS), mounts made private
 *   mount     a tmpfs mounted in it
 *   overlay   an overlay with userxattr on that tmpfs
 *   whiteout  a lower directory removed and made again through the overlay
 *             (a whiteout and an opaque xattr, which failed with EIO before userxattr)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe.h"
#include "userns.h"

static int out_fd;

/* Reports a step; returns whether it worked, so the caller stops at the first failure. */
static int step(const char *name, int ok) {
  char line[64];
  int n = snprintf(line, sizeof(line), "%s %d\n", name, ok ? 0 : errno);
  ssize_t ignored = send(out_fd, line, (size_t)n, MSG_NOSIGNAL);
  (void)ignored;
  return ok;
}

/* An existing directory to mount the scratch tmpfs on (inside a container /tmp may be missing). */
static const char *scratch_dir(void) {
  static const char *candidates[] = {"/tmp", "/mnt", "/run", "/var/tmp", "/dev"};
  struct stat st;
  for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
    if (stat(candidates[i], &st) == 0 && S_ISDIR(st.st_mode)) return candidates[i];
  return "/";
}

static int make_dirs(const char *base) {
  static const char *dirs[] = {"l", "l/d", "u", "w", "m"};
  char path[256];
  for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
    snprintf(path, sizeof(path), "%s/%s", base, dirs[i]);
    if (mkdir(path, 0755) < 0) return -1;
  }
  return 0;
}

static int mount_overlay(const char *base) {
  char opts[512], merged[256];
  snprintf(opts, sizeof(opts), "lowerdir=%s/l,upperdir=%s/u,workdir=%s/w,userxattr", base, base, base);
  snprintf(merged, sizeof(merged), "%s/m", base);
  if (make_dirs(base) < 0) return -1;
  return mount("overlay", merged, "overlay", 0, opts);
}

static int remake_lower_dir(const char *base) {
  char dir[256];
  snprintf(dir, sizeof(dir), "%s/m/d", base);
  if (rmdir(dir) < 0) return -1;
  return mkdir(dir, 0755);
}

int mc_probe_userns(int fd) {
  out_fd = fd;
  uid_t uid = getuid();
  gid_t gid = getgid();
  const char *base = scratch_dir();
  int ok = step("userns", unshare(CLONE_NEWUSER) == 0) && step("idmap", mc_map_self(uid, gid) == 0) &&
           step("mountns", unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0) &&
           step("mount", mount("tmpfs", base, "tmpfs", 0, "size=1m") == 0) && step("overlay", mount_overlay(base) == 0) &&
           step("whiteout", remake_lower_dir(base) == 0);
  return ok ? 0 : 1;
}
