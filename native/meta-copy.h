/*
 * Copying an inode's metadata (owner, mode, times; file capabilities on
 * request) from one open fd onto another: the shared core of fsops.c's
 * mc_copy_meta (libmcnative, a copy's directories and files) and the
 * keeper's copymeta (mc-shim, a rootless merge onto another id's directory).
 * Each caller keeps its own error policy through the flags and the name of
 * the call that failed.
 */
#ifndef MC_META_COPY_H
#define MC_META_COPY_H

#define MC_META_OWNER 1         /* copy uid/gid */
#define MC_META_OWNER_IF_LET 2  /* with MC_META_OWNER: a chown refused (EPERM: unprivileged, EINVAL: unmapped id) is skipped */
#define MC_META_CAPS 4          /* a regular file's security.capability too (a refusing filesystem or privilege is skipped) */
#define MC_META_XATTRS 8        /* the user.* and trusted.* attributes a layer keeps too (overlay's own marks excepted, as
                                   lib/files/xattrs.ts's layerXattr; a refusing filesystem or privilege is skipped) */

/* Whether a chown's result r is success or a refusal MC_META_OWNER_IF_LET skips (errno read as set by it). */
int mc_chown_ok(int r);

/*
 * Copies srcfd's owner (MC_META_OWNER), attributes (MC_META_XATTRS), mode,
 * capabilities (MC_META_CAPS) and times onto dstfd, in that order: chown
 * clears set-id bits and capabilities, a mode without write permission would
 * refuse user.* attributes to an owner without DAC override (a rootless
 * runtime's user), and the times go last. Returns NULL, or the name of the call that failed
 * ("fstat" reads the source, every other one writes the destination) with
 * errno set.
 */
const char *mc_meta_copy(int srcfd, int dstfd, int flags);

/*
 * Sets the permission bits of `name` in dirfd without ever following a symlink: the entry is opened once
 * (O_PATH, O_NOFOLLOW) and changed through that fd's /proc/self/fd link, the opened inode whatever the name
 * is now. A chmod by name (fchmodat follows) could be raced by a container's process swapping the entry
 * for a symlink between a check and the chmod, and the link would be resolved from the caller's root, the
 * host's. A symlink is left alone (it has no mode). 0, or -1 with errno set.
 */
int mc_chmod_nofollow(int dirfd, const char *name, unsigned mode);

#endif
