/*
 * mc-shim relay <netns path|-> <tcp|udp> <target ipv4> <target port> <udp idle ms> [<end-with link> | <listen netns path> <ipv4> <port>]
 *
 * A published port of a rootless runtime ("proxy" mode), or a root runtime's
 * port published on an IPv6 host address (no DNAT rule turns IPv6 into the
 * container's IPv4, as Docker's userland proxy serves `[::]` and `[::1]`). The
 * host listeners are bound by Node (so EPORTINUSE and EPORTPRIVILEGED keep
 * their meaning) and given to the relay as fd 4 and, for a port published on
 * every address, fd 5 (`[::]` beside `0.0.0.0`, IPV6_V6ONLY, as Docker's two
 * proxies for `-p 8080:80`); the relay joins the runtime's network namespace
 * (netns-join.c), where the container address is reachable, and forwards:
 *
 *  - TCP: each accepted client gets a connection to the target made inside
 *    the namespace; bytes move with splice(2) through a pipe per direction,
 *    never through user space. A FIN in one direction is passed on as
 *    shutdown(SHUT_WR) once that direction's pipe is drained (half-close),
 *    and the pair is closed when both directions ended; an error on either
 *    side resets the other.
 *  - UDP: one connected socket in the namespace per client address (a flow),
 *    so answers go back to the right client; a flow idle for the timeout is
 *    closed.
 *
 * With `-` for the netns path the relay joins none: it connects from where it
 * was started. With three more arguments, <listen netns path> <ipv4> <port>,
 * the TCP listener is not Node's fd 4 but made by the relay in that namespace
 * (listen_in): an exposed host port (host-port-exposure.ts) accepts on a
 * network's gateway there and connects to the host's loopback from here;
 * `-` as the listen netns path binds in the relay's own namespace (root's
 * relays, started from the host's namespace: no path to the owner's
 * /proc/<pid>/ns/net, whose main thread may be inside a container's
 * namespace for a moment when the relay opens it).
 *
 * fd 3 is the owner's control socket: "R\n" once the relay is in the
 * namespace and serving, or "E <step> <errno>\n" and exit. The relay exits
 * when that socket closes: the owner released the port, or died.
 *
 * With one more argument, <end-with link> (the container's host veth: root's
 * IPv6 side of a port, a rootless port), the relay also exits when that link
 * is deleted in the namespace it connects from (root's `-`: the one it started
 * in; rootless: the runtime's, joined): the container was released by any process on
 * the runtime root (not only its owner, the only one holding the control
 * socket), or its namespace ended with its last process. Its exit closes the
 * host listeners, so the port is free at once. Such a relay spawned in a
 * session of its own (root's `[::]` side) outlives its owner, as the
 * container does (a detached container keeps its `[::]` side as it keeps its
 * IPv4 DNAT rule): the control socket's close only stops it being watched;
 * the owner ends it early with a signal. Without a session of its own (a
 * rootless port) it still exits when the control socket closes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netns-join.h"
#include "relay.h"

#define LISTEN_FD 4
/* fd 4 and, when Node gave one, fd 5: IPv4 and IPv6 listeners of one port published on every address. */
#define MAX_LISTENERS 2
/*
 * A direction's pipe starts at the kernel's default size and grows to PIPE_MAX_BYTES the first time a
 * read fills it (a bulk transfer), so each splice moves up to that much at once (less CPU per byte than
 * the former fixed 256 KiB), while idle and interactive connections keep small pipes: pipes count
 * against the user's pipe-user-pages-soft (64 MiB by default), past which an unprivileged user's
 * F_SETPIPE_SZ fails and its new pipes get two pages. 1 MiB is the default pipe-max-size, the most an
 * unprivileged relay may ask for.
 */
#define PIPE_START_BYTES (64 * 1024)
#define PIPE_MAX_BYTES (1024 * 1024)
#define MAX_UDP_FLOWS 4096
/* Out of fds: accepting stops this long (the listener would be reported readable in a loop otherwise). */
#define ACCEPT_PAUSE_MS 100
#define UDP_DATAGRAM_MAX 65536

enum kind { K_CONTROL, K_LISTENER, K_CLIENT, K_TARGET, K_FLOW, K_LINK };

/* What an epoll event points at: which socket of which connection or flow. */
struct handle {
  enum kind kind;
  void *owner;
};

/* One direction of a TCP pair: bytes read from one socket wait in the pipe for the other. */
struct direction {
  int pipe[2];
  size_t queued;
  size_t capacity; /* the pipe's real size, as the kernel granted it */
  bool grown;      /* PIPE_MAX_BYTES asked for already (granted or not) */
  bool eof;        /* the source sent FIN */
  bool shut;       /* passed on as shutdown(SHUT_WR) */
};

struct conn {
  int client, target;
  struct handle client_h, target_h;
  struct direction up, down; /* client -> target, target -> client */
  uint32_t client_ev, target_ev; /* 0: not in the epoll set */
  bool connecting, closed;
  struct conn *next_dead;
};

struct flow {
  int fd;
  int listener; /* the host socket the client's datagrams came in on, and its answers go out of */
  struct handle h;
  struct sockaddr_storage client;
  socklen_t client_len;
  long long last_ms;
  struct flow *next;
};

static int epfd;
static struct sockaddr_in target;
static struct conn *dead; /* closed in this batch of events, freed after it */
static struct flow *flows;
static int flow_count;
static long long idle_ms;
static long long accept_paused_until; /* 0: accepting */
static int listeners[MAX_LISTENERS];
static int listener_count;
static struct handle control_h = {K_CONTROL, NULL}, listener_h[MAX_LISTENERS], link_h = {K_LINK, NULL};
/* The end-with link's rtnetlink socket (RTMGRP_LINK) and index; -1 and 0 without one. */
static int link_fd = -1;
static unsigned link_index;
static char datagram[UDP_DATAGRAM_MAX];

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void say(int fd, const char *line) {
  ssize_t ignored = send(fd, line, strlen(line), MSG_NOSIGNAL);
  (void)ignored;
}

static int watch(int fd, uint32_t events, struct handle *h, int op) {
  struct epoll_event ev = {.events = events, .data.ptr = h};
  return epoll_ctl(epfd, op, fd, &ev);
}

/* ---- TCP ---- */

static void set_reset_on_close(int fd) {
  struct linger l = {.l_onoff = 1, .l_linger = 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

static void close_conn(struct conn *c, bool reset) {
  if (c->closed) return;
  c->closed = true;
  if (reset) {
    set_reset_on_close(c->client);
    set_reset_on_close(c->target);
  }
  close(c->client);
  close(c->target);
  close(c->up.pipe[0]);
  close(c->up.pipe[1]);
  close(c->down.pipe[0]);
  close(c->down.pipe[1]);
  c->next_dead = dead;
  dead = c;
}

/* A read filled the pipe: a bulk transfer; asked once, best effort (the user's pipe quota may be spent). */
static void grow(struct direction *d) {
  if (d->grown || d->capacity >= PIPE_MAX_BYTES) return;
  d->grown = true;
  int size = fcntl(d->pipe[1], F_SETPIPE_SZ, PIPE_MAX_BYTES);
  if (size > 0) d->capacity = (size_t)size;
}

/*
 * Moves what it can from `from` to `to` through the direction's pipe; -1 on a
 * socket error. It goes round again only while a read took all the room the
 * pipe had and the write made room again: after a short read the socket is
 * empty, and level-triggered epoll reports anything that arrives later, so
 * no extra splice is spent learning EAGAIN (one less syscall per message).
 */
static int pump(struct direction *d, int from, int to) {
  for (;;) {
    size_t room = 0;
    ssize_t got = -1;
    if (!d->eof && d->queued < d->capacity) {
      room = d->capacity - d->queued;
      got = splice(from, NULL, d->pipe[1], NULL, room, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (got > 0) d->queued += (size_t)got;
      else if (got == 0) d->eof = true;
      else if (errno != EAGAIN) return -1;
      if (got > 0 && (size_t)got == room) grow(d);
    }
    if (d->queued > 0) {
      ssize_t n = splice(d->pipe[0], NULL, to, NULL, d->queued, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) d->queued -= (size_t)n;
      else if (n < 0 && errno != EAGAIN) return -1;
    }
    if (got <= 0 || (size_t)got < room || d->queued >= d->capacity) break;
  }
  if (d->eof && d->queued == 0 && !d->shut) {
    shutdown(to, SHUT_WR);
    d->shut = true;
  }
  return 0;
}

/* The events a socket waits for: readable while its outgoing pipe has room, writable while its incoming one holds bytes. */
static uint32_t wanted(const struct direction *out, const struct direction *in) {
  uint32_t ev = 0;
  if (!out->eof && out->queued < out->capacity) ev |= EPOLLIN;
  if (in->queued > 0) ev |= EPOLLOUT;
  return ev;
}

/*
 * A socket that waits for nothing leaves the epoll set: epoll always reports
 * a hung-up socket, and level-triggered that would spin while the other side
 * drains. Adding it back later reports whatever happened meanwhile.
 */
static void rearm(int fd, uint32_t *current, uint32_t ev, struct handle *h) {
  if (*current == ev) return;
  int op = !ev ? EPOLL_CTL_DEL : !*current ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  *current = ev;
  watch(fd, ev, h, op);
}

/*
 * Serves what an event on one socket of the pair asks for: readable (or hung
 * up) moves the direction out of it, writable the one into it; with no event
 * (just connected) both move.
 */
static void serve_conn(struct conn *c, bool from_client, uint32_t events) {
  if (c->closed) return;
  struct direction *out = from_client ? &c->up : &c->down, *in = from_client ? &c->down : &c->up;
  int self = from_client ? c->client : c->target, peer = from_client ? c->target : c->client;
  bool reads = !events || (events & (EPOLLIN | EPOLLHUP)), writes = !events || (events & EPOLLOUT);
  /* A reset or failed socket: the other side is reset too, as a direct connection would be. */
  if ((events & EPOLLERR) || (reads && pump(out, self, peer) < 0) || (writes && pump(in, peer, self) < 0)) {
    close_conn(c, true);
    return;
  }
  if (c->up.shut && c->down.shut) {
    close_conn(c, false);
    return;
  }
  rearm(c->client, &c->client_ev, wanted(&c->up, &c->down), &c->client_h);
  rearm(c->target, &c->target_ev, wanted(&c->down, &c->up), &c->target_h);
}

static void connected(struct conn *c) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(c->target, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
    close_conn(c, true);
    return;
  }
  c->connecting = false;
  serve_conn(c, true, 0);
}

/*
 * The direction's pipe and its real size: over the user's pipe quota the kernel gives a new pipe two
 * pages and refuses to resize it, and counting room the pipe does not have would keep the socket
 * wanted readable while every splice into the full pipe says EAGAIN (a busy loop).
 */
static int make_pipe(struct direction *d) {
  if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) < 0) return -1;
  int size = fcntl(d->pipe[1], F_SETPIPE_SZ, PIPE_START_BYTES);
  if (size < 0) size = fcntl(d->pipe[1], F_GETPIPE_SZ);
  d->capacity = size > 0 ? (size_t)size : 4096;
  return 0;
}

/* Stops watching the listener for a while: the pending clients wait in its backlog until fds are free again. */
static void pause_accepting(void) {
  accept_paused_until = now_ms() + ACCEPT_PAUSE_MS;
  for (int i = 0; i < listener_count; i++) watch(listeners[i], 0, &listener_h[i], EPOLL_CTL_MOD);
}

static void resume_accepting(void) {
  if (!accept_paused_until || now_ms() < accept_paused_until) return;
  accept_paused_until = 0;
  for (int i = 0; i < listener_count; i++) watch(listeners[i], EPOLLIN, &listener_h[i], EPOLL_CTL_MOD);
}

/*
 * The next client's connection, made before it is accepted: when fds run
 * out, the client waits in the listener's backlog (accepting pauses) rather
 * than being accepted and reset for want of a socket or pipe.
 */
static struct conn *spare;

static struct conn *make_spare(void) {
  struct conn *c = calloc(1, sizeof(*c));
  if (!c) return NULL;
  c->client = -1;
  c->up.pipe[0] = c->up.pipe[1] = c->down.pipe[0] = c->down.pipe[1] = -1;
  c->target = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->target >= 0 && make_pipe(&c->up) == 0 && make_pipe(&c->down) == 0) return c;
  int err = errno;
  close_conn(c, false); /* freed with this batch's dead */
  errno = err;
  return NULL;
}

static bool out_of_fds(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

static void accept_clients(int listener) {
  for (;;) {
    if (!spare && !(spare = make_spare())) {
      if (out_of_fds(errno)) pause_accepting();
      return;
    }
    int client = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0) {
      if (out_of_fds(errno)) pause_accepting();
      return; /* EAGAIN, or a client gone before accept */
    }
    struct conn *c = spare;
    spare = NULL;
    int one = 1;
    c->client = client;
    /* Relayed bytes go out as they come: Nagle here would add a round trip to small writes. */
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(c->target, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->client_h = (struct handle){K_CLIENT, c};
    c->target_h = (struct handle){K_TARGET, c};
    c->connecting = true;
    if (connect(c->target, (struct sockaddr *)&target, sizeof(target)) < 0 && errno != EINPROGRESS) {
      close_conn(c, true);
      continue;
    }
    /* The client is not read until the target answered: nothing to send its bytes to before. */
    rearm(c->target, &c->target_ev, EPOLLOUT, &c->target_h);
  }
}

static void free_dead(void) {
  while (dead) {
    struct conn *next = dead->next_dead;
    free(dead);
    dead = next;
  }
}

/* ---- UDP ---- */

static struct flow *find_flow(const struct sockaddr_storage *from, socklen_t len) {
  for (struct flow *f = flows; f; f = f->next)
    if (f->client_len == len && !memcmp(&f->client, from, len)) return f;
  return NULL;
}

static struct flow *new_flow(int listener, const struct sockaddr_storage *from, socklen_t len) {
  if (flow_count >= MAX_UDP_FLOWS) return NULL;
  struct flow *f = calloc(1, sizeof(*f));
  if (!f) return NULL;
  f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (f->fd < 0 || connect(f->fd, (struct sockaddr *)&target, sizeof(target)) < 0) {
    if (f->fd >= 0) close(f->fd);
    free(f);
    return NULL;
  }
  f->h = (struct handle){K_FLOW, f};
  f->listener = listener;
  memcpy(&f->client, from, len);
  f->client_len = len;
  watch(f->fd, EPOLLIN, &f->h, EPOLL_CTL_ADD);
  f->next = flows;
  flows = f;
  flow_count++;
  return f;
}

static void client_datagrams(int listener) {
  for (;;) {
    struct sockaddr_storage from;
    socklen_t len = sizeof(from);
    ssize_t n = recvfrom(listener, datagram, sizeof(datagram), 0, (struct sockaddr *)&from, &len);
    if (n < 0) return;
    struct flow *f = find_flow(&from, len);
    if (!f) f = new_flow(listener, &from, len);
    if (!f) continue; /* too many flows: UDP may drop */
    f->last_ms = now_ms();
    ssize_t ignored = send(f->fd, datagram, (size_t)n, 0);
    (void)ignored;
  }
}

static void target_datagrams(struct flow *f) {
  for (;;) {
    ssize_t n = recv(f->fd, datagram, sizeof(datagram), 0);
    if (n < 0) return; /* EAGAIN; ECONNREFUSED (nothing listens yet) is not fatal to the flow */
    f->last_ms = now_ms();
    ssize_t ignored = sendto(f->listener, datagram, (size_t)n, 0, (struct sockaddr *)&f->client, f->client_len);
    (void)ignored;
  }
}

static void expire_flows(void) {
  long long limit = now_ms() - idle_ms;
  for (struct flow **p = &flows; *p;) {
    struct flow *f = *p;
    if (f->last_ms > limit) {
      p = &f->next;
      continue;
    }
    *p = f->next;
    close(f->fd); /* also leaves the epoll set */
    free(f);
    flow_count--;
  }
}

/* ---- setup and loop ---- */

static int parse_target(const char *ip, const char *port) {
  char *end;
  long p = strtol(port, &end, 10);
  if (*end || p < 1 || p > 65535) return -1;
  target.sin_family = AF_INET;
  target.sin_port = htons((uint16_t)p);
  return inet_pton(AF_INET, ip, &target.sin_addr) == 1 ? 0 : -1;
}

/*
 * Subscribes to link events, then resolves the link's index (in that order: a deletion between the
 * two is seen as the link missing); 0, or -1 with errno (ENODEV: the link is gone already).
 */
static int watch_link(const char *name) {
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
  link_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (link_fd < 0 || bind(link_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) return -1;
  link_index = if_nametoindex(name);
  return link_index ? 0 : -1;
}

/* Exits when a link event says the watched link was deleted (or, events lost, it no longer exists). */
static void link_events(void) {
  char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
  char name[IF_NAMESIZE];
  for (;;) {
    ssize_t n = recv(link_fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == ENOBUFS && !if_indextoname(link_index, name)) exit(0);
    if (n < 0 && errno == ENOBUFS) continue;
    if (n <= 0) return;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      const struct ifinfomsg *ifi = NLMSG_DATA(h);
      if (h->nlmsg_type == RTM_DELLINK && h->nlmsg_len >= NLMSG_LENGTH(sizeof(*ifi)) && (unsigned)ifi->ifi_index == link_index) exit(0);
    }
  }
}

/*
 * The control socket closed: the owner released the port, or died. A relay that ends with a link
 * and was spawned in a session of its own (to outlive its owner) lives on until the link goes (the
 * owner's release deletes it, or signals the relay first).
 */
static void owner_gone(int control_fd) {
  if (link_fd < 0 || getsid(0) != getpid()) exit(0);
  epoll_ctl(epfd, EPOLL_CTL_DEL, control_fd, NULL);
  close(control_fd);
}

static void on_event(int control_fd, struct epoll_event *ev, bool udp) {
  struct handle *h = ev->data.ptr;
  switch (h->kind) {
  case K_CONTROL: {
    char buf[64];
    ssize_t n = recv(control_fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN)) owner_gone(control_fd);
    break;
  }
  case K_LISTENER: {
    int listener = *(int *)h->owner;
    if (udp) client_datagrams(listener);
    else accept_clients(listener);
    break;
  }
  case K_CLIENT:
  case K_TARGET: {
    struct conn *c = h->owner;
    if (c->closed) break;
    if (c->connecting) connected(c);
    else serve_conn(c, h->kind == K_CLIENT, ev->events);
    break;
  }
  case K_FLOW:
    target_datagrams(h->owner);
    break;
  case K_LINK:
    link_events();
    break;
  }
}

/*
 * A TCP listener on ip:port made in the network namespace at `path`, placed at LISTEN_FD. A child
 * sharing this fd table (CLONE_FILES, nothing else) joins the namespace and binds there, so that the
 * relay itself stays in its own: a process that is not root cannot join a namespace of another user
 * namespace and come back. SO_REUSEPORT: the relays of one exposed port on one network (one per
 * container asking for it, in any process of the same user) share its address. 0, or -1 with errno.
 */
static int listen_in(const char *path, const char *ip, const char *port) {
  struct sockaddr_in addr = {.sin_family = AF_INET};
  char *end;
  long p = strtol(port, &end, 10);
  if (*end || p < 1 || p > 65535 || inet_pton(AF_INET, ip, &addr.sin_addr) != 1) {
    errno = EINVAL;
    return -1;
  }
  addr.sin_port = htons((uint16_t)p);
  pid_t child = (pid_t)syscall(SYS_clone, CLONE_FILES | SIGCHLD, 0, 0, 0, 0);
  if (child < 0) return -1;
  if (child == 0) {
    const char *step;
    int one = 1;
    if (strcmp(path, "-") && mc_join_netns(path, &step) < 0) _exit(errno & 255);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 4096) < 0 || dup2(fd, LISTEN_FD) < 0)
      _exit(errno & 255);
    /* The fd table is the relay's (CLONE_FILES): the original would stay open there beside LISTEN_FD. */
    if (fd != LISTEN_FD) close(fd);
    _exit(0);
  }
  int status;
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR) return -1;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
  errno = WIFEXITED(status) ? WEXITSTATUS(status) : ECHILD;
  return -1;
}

/* fd 4, and fd 5 when Node passed a second listener (a port on every address: its IPv6 socket). */
static int count_listeners(bool made_here) {
  int type;
  socklen_t len = sizeof(type);
  if (made_here) return 1;
  return getsockopt(LISTEN_FD + 1, SOL_SOCKET, SO_TYPE, &type, &len) == 0 ? 2 : 1;
}

static int watch_listeners(void) {
  for (int i = 0; i < listener_count; i++) {
    listeners[i] = LISTEN_FD + i;
    listener_h[i] = (struct handle){K_LISTENER, &listeners[i]};
    fcntl(listeners[i], F_SETFL, fcntl(listeners[i], F_GETFL) | O_NONBLOCK);
    if (watch(listeners[i], EPOLLIN, &listener_h[i], EPOLL_CTL_ADD) < 0) return -1;
  }
  return 0;
}

int mc_relay(int control_fd, int argc, char **argv) {
  if (argc < 5 || (strcmp(argv[1], "tcp") && strcmp(argv[1], "udp")) || parse_target(argv[2], argv[3]) < 0) {
    mc_say_join_failure(control_fd, "arguments", EINVAL);
    return 2;
  }
  bool udp = !strcmp(argv[1], "udp");
  /*
   * A splice into a socket the peer reset can fail with EPIPE, and the kernel then also sends SIGPIPE:
   * by default that killed the relay, and with it every connection of the port and the port itself.
   * Ignored, the failing splice just resets that one connection (pump() returns -1).
   */
  signal(SIGPIPE, SIG_IGN);
  /* Each TCP client costs 6 fds (two sockets, two pipes): take all the fds this user may have. */
  struct rlimit fds;
  if (getrlimit(RLIMIT_NOFILE, &fds) == 0 && fds.rlim_cur < fds.rlim_max) {
    fds.rlim_cur = fds.rlim_max;
    setrlimit(RLIMIT_NOFILE, &fds);
  }
  idle_ms = atoll(argv[4]) > 0 ? atoll(argv[4]) : 30000;
  /* Counted before any fd is opened here: the next one would be taken for a second listener at fd 5. */
  listener_count = count_listeners(argc >= 8);
  if (argc >= 8 && !udp && listen_in(argv[5], argv[6], argv[7]) < 0) {
    mc_say_join_failure(control_fd, "listen", errno);
    return 1;
  }
  const char *step;
  if (strcmp(argv[0], "-") && mc_join_netns(argv[0], &step) < 0) {
    mc_say_join_failure(control_fd, step, errno);
    return 1;
  }
  /* After joining: the link is in the namespace the relay connects from (root's `-`: the one it started in). */
  if (argc == 6 && watch_link(argv[5]) < 0) {
    mc_say_join_failure(control_fd, "link", errno);
    return 1;
  }
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0 || watch(control_fd, EPOLLIN | EPOLLRDHUP, &control_h, EPOLL_CTL_ADD) < 0 || watch_listeners() < 0 ||
      (link_fd >= 0 && watch(link_fd, EPOLLIN, &link_h, EPOLL_CTL_ADD) < 0)) {
    mc_say_join_failure(control_fd, "epoll", errno);
    return 1;
  }
  say(control_fd, "R\n");
  struct epoll_event events[64];
  for (;;) {
    int tick = udp ? (int)(idle_ms < 1000 ? idle_ms : 1000) : accept_paused_until ? ACCEPT_PAUSE_MS : -1;
    int n = epoll_wait(epfd, events, 64, tick);
    if (n < 0 && errno != EINTR) return 1;
    for (int i = 0; i < n; i++) on_event(control_fd, &events[i], udp);
    free_dead();
    if (udp) expire_flows();
    else resume_accepting();
  }
}
