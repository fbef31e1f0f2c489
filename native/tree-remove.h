/*
 * Removing a directory tree by fds, never following a symlink: the shared core of
 * libmcnative's mc_remove_tree (a removed container's directory, deleted in one
 * threadpool call) and the keeper's rmtree/rmtreeat (mc-shim, a rootless
 * runtime's trees holding files of its subordinate ids).
 */
#ifndef MC_TREE_REMOVE_H
#define MC_TREE_REMOVE_H

/*
 * Removes `base` in the directory `parent` and everything below it, depth first, holding one fd
 * at a time whatever the depth; a missing `base` is no error. Returns 0, or -1 with errno set.
 */
int mc_tree_remove_at(int parent, const char *base);

#endif
