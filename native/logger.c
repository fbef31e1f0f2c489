/* The shim's json-file logger (see logger.h). */
#define _GNU_SOURCE
#include "logger.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int mc_log_open(struct mc_log *log, const char *path, long long max_size, int max_files, int out_fd, int err_fd) {
  log->path = path;
  log->max_size = max_size > 0 ? max_size : 0;
  log->max_files = max_files > 0 ? max_files : 1;
  log->out_len = 0;
  /* Field by field: a struct literal would write (and make resident) both 16 KiB line buffers. */
  log->streams[0].fd = out_fd;
  log->streams[0].name = "stdout";
  log->streams[0].len = 0;
  log->streams[1].fd = err_fd;
  log->streams[1].name = "stderr";
  log->streams[1].len = 0;
  log->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (log->fd < 0) return -1;
  struct stat st;
  log->size = fstat(log->fd, &st) == 0 ? st.st_size : 0;
  return 0;
}

static void write_all(int fd, const char *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return; /* a full disk drops output; the program must not block on it */
    p += n;
    len -= (size_t)n;
  }
}

static void flush(struct mc_log *log) {
  if (log->fd >= 0) write_all(log->fd, log->out, log->out_len);
  log->out_len = 0;
}

/* <path>.<k> for k >= 1, <path> for 0. */
static void numbered(char *buf, size_t len, const char *path, int k) {
  if (k == 0) snprintf(buf, len, "%s", path);
  else snprintf(buf, len, "%s.%d", path, k);
}

/* Shifts <file>.k to <file>.k+1, the oldest falling off, and starts an empty <file>. */
static void rotate(struct mc_log *log) {
  flush(log);
  close(log->fd);
  char from[4096], to[4096];
  if (log->max_files > 1) {
    for (int k = log->max_files - 2; k >= 0; k--) {
      numbered(from, sizeof(from), log->path, k);
      numbered(to, sizeof(to), log->path, k + 1);
      rename(from, to);
    }
  } else {
    unlink(log->path);
  }
  log->fd = open(log->path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  log->size = 0;
}

/* Length of the valid UTF-8 sequence at `s` (as Go's utf8.DecodeRune accepts it), 0 when invalid or cut short. */
static size_t utf8_length(const unsigned char *s, size_t avail) {
  unsigned char c = s[0], lo = 0x80, hi = 0xbf;
  size_t n;
  if (c >= 0xc2 && c <= 0xdf) n = 2;
  else if (c >= 0xe0 && c <= 0xef) n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
  else if (c >= 0xf0 && c <= 0xf4) n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
  else return 0;
  if (avail < n || s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < n; i++)
    if (s[i] < 0x80 || s[i] > 0xbf) return 0;
  return n;
}

/*
 * Appends `s` escaped as Docker's json-file does (jsonlog's string writer):
 * \" \\ \n \r, other control characters and < > & as \u00XX, invalid UTF-8
 * as \ufffd byte by byte, U+2028 and U+2029 escaped; the rest as it is.
 */
static size_t escape(char *dst, const char *text, size_t len) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *)text;
  char *d = dst;
  for (size_t i = 0; i < len;) {
    unsigned char c = s[i];
    if (c >= 0x80) {
      size_t n = utf8_length(s + i, len - i);
      if (n == 0) {
        memcpy(d, "\\ufffd", 6), d += 6, i++;
      } else if (n == 3 && c == 0xe2 && s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
        d += sprintf(d, "\\u202%c", s[i + 2] == 0xa8 ? '8' : '9'), i += 3;
      } else {
        memcpy(d, s + i, n), d += n, i += n;
      }
      continue;
    }
    i++;
    if (c >= 0x20 && c != '\\' && c != '"' && c != '<' && c != '>' && c != '&') *d++ = (char)c;
    else if (c == '\\' || c == '"') *d++ = '\\', *d++ = (char)c;
    else if (c == '\n') *d++ = '\\', *d++ = 'n';
    else if (c == '\r') *d++ = '\\', *d++ = 'r';
    else memcpy(d, "\\u00", 4), d[4] = hex[c >> 4], d[5] = hex[c & 15], d += 6;
  }
  return (size_t)(d - dst);
}

/* One record: a line with its newline, or a piece of a long or last line without it. */
static void record(struct mc_log *log, const char *name, const char *text, size_t len) {
  static char rec[6 * MC_LOG_LINE_MAX + 128];
  char *d = rec;
  d += sprintf(d, "{\"log\":\"");
  d += escape(d, text, len);
  d += sprintf(d, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n", name, log->time);
  size_t n = (size_t)(d - rec);
  /* Rotate before a record that would overflow the file: a file never holds more than max-size, or one record. */
  if (log->max_size && log->size > 0 && log->size + (long long)n > log->max_size) rotate(log);
  if (log->out_len + n > sizeof(log->out)) flush(log);
  memcpy(log->out + log->out_len, rec, n);
  log->out_len += n;
  log->size += (long long)n;
}

/* RFC 3339 with nanoseconds, the stamp of every record split from one read. */
static void stamp(struct mc_log *log) {
  struct timespec now;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &tm);
  size_t n = strftime(log->time, sizeof(log->time), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(log->time + n, sizeof(log->time) - n, ".%09ldZ", now.tv_nsec);
}

/* Splits a chunk of output into records: whole lines, and 16 KiB pieces of longer ones. */
static void split(struct mc_log *log, struct mc_log_stream *s, const char *p, size_t len) {
  while (len > 0) {
    const char *nl = memchr(p, '\n', len);
    size_t take = nl ? (size_t)(nl - p) + 1 : len;
    if (take > MC_LOG_LINE_MAX - s->len) take = MC_LOG_LINE_MAX - s->len;
    if (s->len == 0 && (nl && take == (size_t)(nl - p) + 1)) {
      record(log, s->name, p, take); /* a whole line: no copy */
    } else {
      memcpy(s->line + s->len, p, take);
      s->len += take;
      if (s->line[s->len - 1] == '\n' || s->len == MC_LOG_LINE_MAX) {
        record(log, s->name, s->line, s->len);
        s->len = 0;
      }
    }
    p += take;
    len -= take;
  }
}

/* Reads once from a stream; returns 0 at EOF or when nothing is there (non-blocking drain). */
static int pump(struct mc_log *log, struct mc_log_stream *s) {
  static char chunk[64 * 1024];
  ssize_t n;
  do n = read(s->fd, chunk, sizeof(chunk));
  while (n < 0 && errno == EINTR);
  if (n <= 0) return 0;
  stamp(log);
  split(log, s, chunk, (size_t)n);
  return 1;
}

/* A stream at its end: its unfinished last line recorded, its pipe closed. */
static void end_stream(struct mc_log *log, struct mc_log_stream *s) {
  if (s->len) {
    stamp(log);
    record(log, s->name, s->line, s->len);
    s->len = 0;
  }
  close(s->fd);
  s->fd = -1;
}

/* At the program's exit: what the pipe still holds, read without blocking, then its end. */
static void finish_stream(struct mc_log *log, struct mc_log_stream *s) {
  fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
  while (pump(log, s)) {
  }
  end_stream(log, s);
}

void mc_log_fds(const struct mc_log *log, struct pollfd fds[2]) {
  for (int i = 0; i < 2; i++) fds[i] = (struct pollfd){.fd = log->streams[i].fd, .events = POLLIN};
}

void mc_log_events(struct mc_log *log, struct pollfd fds[2]) {
  for (int i = 0; i < 2; i++) {
    if (!fds[i].revents) continue;
    /* EOF: the program closed it; its exit ends the wait. Ended now, so that the exit's finish (on the
       way to its report) has no pipe to drain again. */
    if (!pump(log, &log->streams[i])) {
      end_stream(log, &log->streams[i]);
      fds[i].fd = -1;
    }
    flush(log);
  }
}

void mc_log_finish(struct mc_log *log) {
  /* Every process of the container's pid namespace is gone with its PID 1: what is in the pipes is all. */
  for (int i = 0; i < 2; i++)
    if (log->streams[i].fd >= 0) finish_stream(log, &log->streams[i]);
  flush(log);
}
