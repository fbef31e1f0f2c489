#ifndef MC_PROBE_H
#define MC_PROBE_H
/* mc-shim probe-userns (probe.c): tries a user namespace, a mount and an overlay in it; one line per step on fd. */
int mc_probe_userns(int fd);
#endif
