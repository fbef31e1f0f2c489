/*
 * The last fence before the program: the seccomp filter. Node compiles the
 * profile to classic BPF (lib/seccomp/) and sends it hex-encoded in the
 * spec; here it is only decoded and handed to the kernel.
 */
#define _GNU_SOURCE
#include "seccomp.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "report.h"
#include "steps.h"

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Decodes the hex program; returns the number of instructions, or 0 when malformed. */
static size_t decode(const char *hex, struct sock_filter **out) {
  size_t len = strlen(hex);
  if (len == 0 || len % (2 * sizeof(struct sock_filter)) != 0) return 0;
  unsigned char *bytes = malloc(len / 2);
  if (!bytes) return 0;
  for (size_t i = 0; i < len / 2; i++) {
    int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      free(bytes);
      return 0;
    }
    bytes[i] = (unsigned char)(hi << 4 | lo);
  }
  *out = (struct sock_filter *)bytes;
  return len / 2 / sizeof(struct sock_filter);
}

void mc_install_seccomp(const struct mc_spec *s) {
  mc_step(MC_STEP_SECCOMP);
  if (!s->seccomp) return;
  struct sock_filter *filter = NULL;
  size_t n = decode(s->seccomp, &filter);
  if (n == 0 || n > BPF_MAXINSNS) mc_fail("seccomp", EINVAL, "malformed filter of %zu hex digits", strlen(s->seccomp));
  struct sock_fprog prog = {.len = (unsigned short)n, .filter = filter};
  /* The raw system call: glibc may have no wrapper, and flags need it. */
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, s->seccomp_flags, &prog) < 0)
    mc_fail("seccomp", errno, "installing a filter of %zu instructions", n);
  free(filter);
}
