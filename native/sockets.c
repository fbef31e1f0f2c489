/*
 * libmcnative: sockets Node cannot make or read with its own API: a host
 * listener whose fd can be given to a relay process, and fds sent and received
 * over a unix socket (SCM_RIGHTS), which Node's net module drops. The shim
 * links it too (its modes send fds to Node).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>

#include "sockets.h"

/*
 * A close-on-exec socket bound to ip:port (IPv4 or IPv6 literal; port 0: any),
 * listening when it is TCP. SO_REUSEADDR on TCP as Docker's proxy sets it
 * (a port in TIME_WAIT can be published again), never SO_REUSEPORT (a port in
 * use must fail with EADDRINUSE). Returns the fd and the bound port, or -errno.
 */
int mc_bound_socket(const char *ip, int port, int tcp, int *bound_port) {
  struct sockaddr_storage addr;
  socklen_t len;
  memset(&addr, 0, sizeof(addr));
  struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
  if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((unsigned short)port);
    len = sizeof(*v4);
  } else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((unsigned short)port);
    len = sizeof(*v6);
  } else {
    return -EINVAL;
  }
  int fd = socket(addr.ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  if (tcp) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  /* `::` is IPv6 alone, as Docker's proxy binds it: the IPv4 side of a port is its own socket (0.0.0.0), whatever net.ipv6.bindv6only says. */
  if (addr.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, (struct sockaddr *)&addr, len) < 0 || (tcp && listen(fd, 4096) < 0) ||
      getsockname(fd, (struct sockaddr *)&addr, &len) < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  *bound_port = ntohs(addr.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
  return fd;
}

int mc_send_fds(int fd, const char *payload, size_t len, const int *fds, int n) {
  struct iovec iov = {.iov_base = (void *)payload, .iov_len = len};
  union {
    char buf[CMSG_SPACE(sizeof(int) * MC_SEND_FDS_MAX)];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof(control));
  if (n < 1 || n > MC_SEND_FDS_MAX) return -(errno = EINVAL);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n)};
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
  memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)n);
  ssize_t n_sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
  return n_sent < 0 ? -errno : (int)n_sent;
}

/*
 * One message from a unix socket, waiting up to timeout_ms for it (0: not at
 * all, negative: without bound; poll, so a blocking caller sleeps instead of spinning): its bytes into
 * buf and up to max_fds received fds (close-on-exec) into fds, the rest of fds
 * set to -1. Returns the byte count, or -errno (-EAGAIN: nothing yet).
 */
int mc_recv_fds(int sock, char *buf, int buf_len, int *fds, int max_fds, int timeout_ms) {
  union {
    char buf[CMSG_SPACE(sizeof(int) * MC_SEND_FDS_MAX)];
    struct cmsghdr align;
  } control;
  if (max_fds > MC_SEND_FDS_MAX) max_fds = MC_SEND_FDS_MAX;
  for (int i = 0; i < max_fds; i++) fds[i] = -1;
  if (timeout_ms != 0) {
    struct pollfd p = {.fd = sock, .events = POLLIN};
    int r;
    do r = poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r < 0) return -errno;
    if (r == 0) return -EAGAIN;
  }
  struct iovec iov = {.iov_base = buf, .iov_len = (size_t)buf_len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf)};
  ssize_t n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0) return -errno;
  int got = 0;
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    int count = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    int *passed = (int *)CMSG_DATA(cm);
    for (int i = 0; i < count; i++) {
      if (got < max_fds) fds[got++] = passed[i];
      else close(passed[i]); /* more than asked for: never leak them */
    }
  }
  return (int)n;
}

/* The port (nl_pid) a netlink socket of `protocol` is bound to, or -1 when fd is not one. */
long long mc_netlink_port(int fd, int protocol) {
  struct sockaddr_nl addr;
  socklen_t len = sizeof(addr);
  int proto = -1;
  socklen_t plen = sizeof(proto);
  if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0 || addr.nl_family != AF_NETLINK) return -1;
  if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &plen) < 0 || proto != protocol) return -1;
  return addr.nl_pid;
}

/*
 * NETLINK_NO_ENOBUFS on a netlink socket: an answer that overruns its receive buffer is dropped
 * without setting the socket's error. A socket error would fail every request waiting on the
 * socket (lib/network/netlink-fd.ts reports it to all), while a dropped answer fails its own
 * request only, by its caller's bound. 0 or -errno.
 */
int mc_netlink_quiet_overruns(int fd) {
  int on = 1;
  return setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &on, sizeof(on)) < 0 ? -errno : 0;
}

/*
 * Sets a socket's receive buffer to `bytes` past net.core.rmem_max, which caps SO_RCVBUF (212992
 * by default): SO_RCVBUFFORCE, which needs CAP_NET_ADMIN; without it (EPERM), SO_RCVBUF and its
 * cap. 0 or -errno.
 */
int mc_socket_grow_receive_buffer(int fd, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) == 0) return 0;
  if (errno != EPERM) return -errno;
  return setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)) < 0 ? -errno : 0;
}

/* The socket's receive buffer size (SO_RCVBUF as the kernel reports it), or -errno. */
int mc_socket_receive_buffer(int fd) {
  int size = 0;
  socklen_t len = sizeof(size);
  return getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &len) < 0 ? -errno : size;
}
