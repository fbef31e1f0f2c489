/**
 * Extended attributes carried in layers (PAX `SCHILY.xattr.<name>` records),
 * limited to the namespaces Docker keeps: `security.capability` (file
 * capabilities, e.g. ping's cap_net_raw), `user.*` and `trusted.*`. Overlay's
 * own marks (`trusted.overlay.*`, `user.overlay.*`) are never taken from a
 * layer nor written into one: a layer must not be able to forge an opaque
 * directory or a redirect, and a commit must not leak the upper dir's
 * bookkeeping. Values are raw bytes (security.capability is binary).
 *
 * @module
 */
import { SyscallError } from '../errors'
import { fgetxattrBytes, flistxattr, fsetxattr } from '../sys/fsops'
import { debug } from '../util/debug'

/** Extended attributes of one file, by name, in name order. */
export type Xattrs = Map<string, Buffer>

/**
 * Whether a layer may carry the attribute `name`. native/meta-copy.c `layer_xattr` applies the same rule
 * in C (security.capability apart, by its copy_file_caps): a change to one is a change to both.
 */
export function layerXattr(name: string): boolean {
  if (name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.')) return false
  return name === 'security.capability' || name.startsWith('user.') || name.startsWith('trusted.')
}

/**
 * Whether `docker cp` carries the attribute `name`: only file capabilities
 * (Docker's archives read security.capability alone), so a copied ping keeps
 * its cap_net_raw.
 */
export function copyXattr(name: string): boolean {
  return name === 'security.capability'
}

/**
 * The attributes of an opened file or directory that `keep` allows (default: a layer's), sorted by name (reproducible layers);
 * `get` reads one (a rootless runtime's reads user.* of another id's files through its keeper).
 */
export function readXattrs(fd: number, keep: (name: string) => boolean = layerXattr, get: (fd: number, name: string) => Buffer | undefined = fgetxattrBytes): Xattrs | undefined {
  const names = flistxattr(fd).filter(keep).sort()
  const out: Xattrs = new Map()
  for (const name of names) {
    const value = get(fd, name)
    if (value !== undefined) out.set(name, value)
  }
  return out.size ? out : undefined
}

/**
 * Sets a layer's attributes on an opened file or directory (after its owner:
 * chown clears security.capability; extractions set them before a mode that
 * may leave the file unwritable, which only DAC override passes). Like Docker, an attribute
 * the filesystem or our privileges refuse (ENOTSUP, EPERM: trusted.* without
 * CAP_SYS_ADMIN) is skipped rather than failing the whole layer. `set`
 * writes one (a rootless runtime's sets user.* through its keeper where the
 * user may not: a directory of another id).
 */
export function writeXattrs(fd: number, xattrs: Xattrs | undefined, where: string, set: (fd: number, name: string, value: Buffer) => void = fsetxattr): void {
  if (!xattrs) return
  for (const [name, value] of xattrs) {
    if (!layerXattr(name)) continue
    try {
      set(fd, name, value)
    } catch (err) {
      if (!(err instanceof SyscallError) || (err.errno !== 'EOPNOTSUPP' && err.errno !== 'ENOTSUP' && err.errno !== 'EPERM')) throw err
      debug('xattr %s not set on %s: %s', name, where, err.errno)
    }
  }
}
