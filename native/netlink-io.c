/*
 * Netlink sockets read and written by Node's JavaScript thread directly, without an event-loop
 * handle (lib/network/netlink-fd.ts). The kernel answers a request to rtnetlink or nf_tables
 * while it is being sent (netlink_unicast runs the protocol's handler in the sender's context):
 * its answers are queued on the socket by the time sendto() returns, and a dump's next part is
 * made by the kernel as the previous one is read. So the answers are read right after the send,
 * without waiting: nothing polls the socket, and a worker_thread ending (terminate()) finds no
 * handle whose callback would run JavaScript in an environment being torn down.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A new netlink socket of `protocol` in the calling thread's namespace, bound to a port the kernel picks (close-on-exec, non-blocking). The fd, or -errno. */
int mc_netlink_open(int protocol) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
  if (fd < 0) return -errno;
  struct sockaddr_nl addr = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

/* Sends one datagram of `len` bytes to netlink port `port` (0: the kernel). 0, or -errno. */
int mc_netlink_send(int fd, const uint8_t *buf, size_t len, uint32_t port, uint32_t groups) {
  struct sockaddr_nl addr = {.nl_family = AF_NETLINK, .nl_pid = port, .nl_groups = groups};
  ssize_t n;
  do n = sendto(fd, buf, len, 0, (struct sockaddr *)&addr, sizeof(addr));
  while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : 0;
}

/*
 * Reads the next queued datagram into `buf` without waiting and returns its size, with its
 * sender's port in `*port`; when it is longer than `len`, returns its size and leaves it queued
 * (the caller reads it again with room for it). -EAGAIN when none is queued, or -errno.
 */
long mc_netlink_recv(int fd, uint8_t *buf, size_t len, uint32_t *port) {
  ssize_t size;
  do size = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
  while (size < 0 && errno == EINTR);
  if (size < 0) return -errno;
  if ((size_t)size > len) return size;
  struct sockaddr_nl addr;
  socklen_t alen = sizeof(addr);
  ssize_t n;
  do n = recvfrom(fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&addr, &alen);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  *port = addr.nl_pid;
  return n;
}
