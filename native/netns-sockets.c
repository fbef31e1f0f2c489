/*
 * mc-shim netns-sockets <netns path>: joins the network namespace (and, when
 * not root, the user namespace owning it: netns-join.c), opens a NETLINK_ROUTE
 * and a NETLINK_NETFILTER socket there, sends both to Node, and exits. A
 * netlink socket stays bound to the namespace it was made in, and the kernel checks CAP_NET_ADMIN against that namespace's
 * owner both for the opener and the sender, so Node (root, or the owner of
 * the user namespace) drives that namespace with its usual netlink code
 * without ever entering it.
 *
 * fd 4 gets one message with the two fds (route, netfilter); fd 3 then gets
 * "R\n", or a failure line "E <step> <errno>\n" (and fd 4 nothing).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>

#include "netns-join.h"
#include "netns-sockets.h"

int mc_open_netlink(int protocol) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
  if (fd < 0) return -1;
  struct sockaddr_nl addr = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

#define FDS_FD 4

int mc_netns_sockets(int fd, const char *netns_path) {
  const char *step;
  if (mc_join_netns(netns_path, &step) < 0) {
    mc_say_join_failure(fd, step, errno);
    return 1;
  }
  int fds[2] = {mc_open_netlink(NETLINK_ROUTE), -1};
  if (fds[0] < 0) {
    mc_say_join_failure(fd, "open rtnetlink", errno);
    return 1;
  }
  fds[1] = mc_open_netlink(NETLINK_NETFILTER);
  if (fds[1] < 0) {
    mc_say_join_failure(fd, "open nfnetlink", errno);
    return 1;
  }
  if (mc_send_fds(FDS_FD, "F", 1, fds, 2) < 0) {
    mc_say_join_failure(fd, "send sockets", errno);
    return 1;
  }
  ssize_t ignored = send(fd, "R\n", 2, MSG_NOSIGNAL);
  (void)ignored;
  return 0;
}
