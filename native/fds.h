#ifndef MC_FDS_H
#define MC_FDS_H

/* Marks every fd from `first` up close-on-exec, so that none reaches the container's program. */
void mc_cloexec_from(int first);

#endif
