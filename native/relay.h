#ifndef MC_RELAY_H
#define MC_RELAY_H
/* mc-shim relay <netns path> <tcp|udp> <ipv4> <port> <udp idle ms> (relay.c): a published port's relay. */
int mc_relay(int control_fd, int argc, char **argv);
#endif
