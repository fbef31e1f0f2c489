/* mc-shim keeper (keeper.c): holds a rootless runtime's user namespace and does its file work. */
#ifndef MC_KEEPER_H
#define MC_KEEPER_H

#include <sys/types.h>

/* Serves the control channel `fd` until it closes; exits if `owner` is not its parent. */
int mc_keeper(int fd, pid_t owner);

#endif
