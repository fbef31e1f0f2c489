/*
 * Exercises a built libmcnative.so without Node: the prebuilt test runs it for
 * x64 natively and for arm64 under qemu-user, against the package's binaries.
 * Usage: native-harness <libmcnative.so> <scratch dir>. Prints one "ok <what>"
 * line per check and exits 0, or prints "FAIL <what>" and exits 1.
 * It calls each function that makes a raw system call (native/glibc-baseline.h),
 * where a wrong struct layout or number on one architecture would show.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define RESOLVE_IN_ROOT 0x10

static int failures;

static void check(int ok, const char *what) {
  printf("%s %s\n", ok ? "ok" : "FAIL", what);
  if (!ok) failures++;
}

static void *need(void *lib, const char *name) {
  void *f = dlsym(lib, name);
  if (!f) {
    printf("FAIL dlsym %s\n", name);
    exit(1);
  }
  return f;
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  void *lib = dlopen(argv[1], RTLD_NOW);
  if (!lib) {
    printf("FAIL dlopen %s\n", dlerror());
    return 1;
  }
  int (*openat2_)(int, const char *, uint64_t, uint64_t, uint64_t) = need(lib, "mc_openat2");
  int (*fstatat_)(int, const char *, int, uint64_t *) = need(lib, "mc_fstatat");
  int (*mknodat_)(int, const char *, unsigned, unsigned, unsigned) = need(lib, "mc_mknodat");
  int64_t (*copy_data)(int, int, int64_t, int) = need(lib, "mc_copy_data");
  int (*spawn)(const char *, char *const[], char *const[], const int *, int, int) = need(lib, "mc_spawn");

  if (chdir(argv[2]) < 0) return 2;
  FILE *f = fopen("data", "w");
  fputs("0123456789abcdef", f);
  fclose(f);
  chmod("data", 0640);
  symlink("../../../..", "escape"); /* outside the root, unless confined */
  int root = open(".", O_PATH | O_DIRECTORY);

  /* openat2(RESOLVE_IN_ROOT): ".." stops at the root, so escape/data is the root's "data". */
  int confined = openat2_(root, "escape/data", O_RDONLY, 0, RESOLVE_IN_ROOT);
  printf("openat2 returned %d\n", confined < 0 ? confined : 0);
  check(confined >= 0, "openat2 confined to the root");
  int fd = open("data", O_RDONLY);

  uint64_t st[13] = {0};
  int r = fstatat_(root, "data", AT_SYMLINK_NOFOLLOW, st);
  check(r == 0 && (st[0] & 07777) == 0640 && S_ISREG(st[0]) && st[3] == 16 && st[8] == 1, "fstatat mode, size and nlink");
  r = fstatat_(fd, "", AT_EMPTY_PATH, st);
  check(r == 0 && st[3] == 16, "fstatat of an fd (AT_EMPTY_PATH)");
  check(fstatat_(root, "missing", 0, st) == -2, "fstatat returns -ENOENT");

  r = mknodat_(root, "fifo", S_IFIFO | 0600, 0, 0);
  check(r == 0 && fstatat_(root, "fifo", AT_SYMLINK_NOFOLLOW, st) == 0 && S_ISFIFO(st[0]), "mknodat makes a fifo");
  r = mknodat_(root, "null", S_IFCHR | 0600, 1, 3);
  check(r == 0 && fstatat_(root, "null", AT_SYMLINK_NOFOLLOW, st) == 0 && st[9] == makedev(1, 3), "mknodat makes a device with its number");

  int out = open("copy", O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int64_t n = copy_data(fd, out, -1, 0);
  close(out);
  char buf[32] = {0};
  f = fopen("copy", "r");
  size_t got = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  check(n == 16 && got == 16 && !strcmp(buf, "0123456789abcdef"), "copy_data copies the whole file");

  char *args[] = {"sh", "-c", "exit 7", NULL};
  char *env[] = {NULL};
  int fds[] = {0, 1, 2};
  int pid = spawn("/bin/sh", args, env, fds, 3, 0);
  int status = 0;
  check(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 7, "spawn runs a program");
  return failures ? 1 : 0;
}
