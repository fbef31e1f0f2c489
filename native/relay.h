#ifndef MC_RELAY_H
#define MC_RELAY_H
/* mc-shim relay <netns path|-> <tcp|udp> <ipv4> <port> <udp idle ms> [<listen netns path> <ipv4> <port>] (relay.c): a published or exposed port's relay. */
int mc_relay(int control_fd, int argc, char **argv);
#endif
