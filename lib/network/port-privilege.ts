/**
 * Privileged host ports: below net.ipv4.ip_unprivileged_port_start only a
 * process with CAP_NET_BIND_SERVICE (root) may bind. A rootless runtime binds
 * its published ports itself, so it says so before trying, with the sysctl
 * named, rather than passing on the kernel's bare EACCES.
 *
 * @module
 */
import { readSysctl } from '../sys/sysctl'
import { PortPrivilegedError } from './errors'

/** The kernel's default, for a /proc without the file (kernels before 4.11). */
const defaultUnprivilegedStart = 1024

/** The lowest port an unprivileged process may bind in this process's network namespace. */
export function unprivilegedPortStart(): number {
  return readSysctl('net.ipv4.ip_unprivileged_port_start') ?? defaultUnprivilegedStart
}

/** Who binds, for {@link checkPortPrivilege}. */
export interface PortBinder {
  /** Its effective uid (0: root, who may bind any port). */
  euid: number
  /** net.ipv4.ip_unprivileged_port_start where it binds. */
  unprivilegedStart: number
}

/** Throws EPORTPRIVILEGED when `binder` may not bind `port` (0, any free port, is always allowed). */
export function checkPortPrivilege(binding: string, port: number, binder: PortBinder): void {
  if (binder.euid !== 0 && port !== 0 && port < binder.unprivilegedStart) throw new PortPrivilegedError(binding, binder.unprivilegedStart)
}
