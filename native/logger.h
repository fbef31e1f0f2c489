/*
 * The container's output, as Docker's json-file driver keeps it.
 *
 * The shim owns the read ends of the program's stdout and stderr pipes and
 * writes one JSON line per line of output, stamped when it was received:
 *   {"log":"hello\n","stream":"stdout","time":"2026-12-01T15:12:22.123456789Z"}
 * A line longer than 16 KiB is split into records without the newline (as
 * Docker does); a last line without one is written when the program ends.
 * With a maximum size the file rotates to <file>.1 ... <file>.<files-1>;
 * one file is replaced by a new empty one, so a reader holding the old one
 * finishes it and notices the new inode.
 */
#ifndef MC_LOGGER_H
#define MC_LOGGER_H

#include <poll.h>
#include <stddef.h>
#include <sys/types.h>

#define MC_LOG_LINE_MAX (16 * 1024)

struct mc_log_stream {
  int fd; /* read end of the pipe; -1 once it reached EOF */
  const char *name;
  size_t len;
  char line[MC_LOG_LINE_MAX];
};

struct mc_log {
  const char *path;
  long long max_size; /* 0: unbounded */
  int max_files;
  int fd;
  long long size; /* bytes in the current file, written or pending */
  size_t out_len;
  char time[40]; /* the stamp of the chunk being split */
  struct mc_log_stream streams[2];
  char out[8 * MC_LOG_LINE_MAX];
};

/* Opens (appends to) the log file; returns -1 with errno on failure. */
int mc_log_open(struct mc_log *log, const char *path, long long max_size, int max_files, int out_fd, int err_fd);

/* The monitor polls the two pipes with its other fds: puts them in fds[0] and fds[1]. */
void mc_log_fds(const struct mc_log *log, struct pollfd fds[2]);

/* After a poll: copies what the ready pipes hold into the log (a pipe at EOF is left out of the next polls). */
void mc_log_events(struct mc_log *log, struct pollfd fds[2]);

/* Once the program has exited: what is left in the pipes, the last partial lines, and a flush. */
void mc_log_finish(struct mc_log *log);

#endif
