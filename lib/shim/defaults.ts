/**
 * The filesystem every container gets, as Docker (runc's default spec) sets
 * it up: /proc, a tmpfs /dev with the standard devices, /sys read-only,
 * and the masked and read-only paths that keep a container away from
 * host-wide kernel knobs.
 *
 * @module
 */
import { existsSync } from 'node:fs'
import { MountExtra, type MountOp, type UsernsKind } from './spec'
import { MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_STRICTATIME } from '../sys/libc'

/** Docker's masked paths (moby oci/defaults.go). */
export const maskedPaths = [
  '/proc/asound', '/proc/acpi', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware',
  '/sys/devices/virtual/powercap',
]

/** Docker's read-only paths. */
export const readonlyPaths = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']

const S_IFCHR = 0o020000

const devices: [name: string, major: number, minor: number][] = [
  ['null', 1, 3], ['zero', 1, 5], ['full', 1, 7], ['random', 1, 8], ['urandom', 1, 9], ['tty', 5, 0],
]

const devLinks: [target: string, link: string][] = [
  ['/proc/self/fd', '/dev/fd'], ['/proc/self/fd/0', '/dev/stdin'], ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'], ['pts/ptmx', '/dev/ptmx'],
  // Like runc: /dev/core only where the kernel has /proc/kcore (CONFIG_PROC_KCORE).
  ...(existsSync('/proc/kcore') ? [['/proc/kcore', '/dev/core'] as [string, string]] : []),
]

function fs(type: string, target: string, flags: number, data = '', source = type): MountOp {
  return { kind: 'mount', type, source, target, flags, data }
}

/**
 * The standard device nodes: made (as runc does), or, in a user namespace, where mknod of a real
 * device is EPERM, the host's own nodes bind-mounted onto files (as Docker rootless and runc do).
 */
function deviceOps(userns: boolean): MountOp[] {
  if (userns) return devices.map(([name]): MountOp => ({ kind: 'mount', type: 'bind', source: `/dev/${name}`, target: `/dev/${name}`, flags: 0, extra: MountExtra.File }))
  return devices.map(([name, major, minor]): MountOp => ({ kind: 'mknod', target: `/dev/${name}`, mode: S_IFCHR | 0o666, major, minor }))
}

/**
 * /proc, /dev (with devices, pts, shm, mqueue) and /sys, in mount order. `userns`: for a container in a
 * user namespace (rootless): device nodes bound from the host; in one of a single id, /dev/pts without
 * gid=5 (unmapped there). `bindSys`: the container's user namespace does not own its network namespace
 * (keep-id's nested namespace on a network of the keeper's), where the kernel refuses a sysfs mount
 * (EPERM: it needs CAP_SYS_ADMIN over the network namespace's owner), so the host's /sys is bound
 * read-only instead, as runc does for rootless containers.
 */
export function systemMounts(opts: { privileged: boolean; shmSize?: number; userns?: UsernsKind; bindSys?: boolean }): MountOp[] {
  const ops: MountOp[] = [
    fs('proc', '/proc', MS_NOSUID | MS_NOEXEC | MS_NODEV),
    fs('tmpfs', '/dev', MS_NOSUID | MS_STRICTATIME, 'mode=755,size=65536k'),
    ...deviceOps(!!opts.userns),
    ...devLinks.map(([linkTarget, target]): MountOp => ({ kind: 'symlink', linkTarget, target })),
    fs('devpts', '/dev/pts', MS_NOSUID | MS_NOEXEC, `newinstance,ptmxmode=0666,mode=0620${opts.userns === 'single' ? '' : ',gid=5'}`),
    fs('tmpfs', '/dev/shm', MS_NOSUID | MS_NOEXEC | MS_NODEV, `mode=1777,size=${opts.shmSize ?? 64 * 1024 * 1024}`, 'shm'),
    fs('mqueue', '/dev/mqueue', MS_NOSUID | MS_NOEXEC | MS_NODEV),
    opts.bindSys ? bindMount('/sys', '/sys', true) : fs('sysfs', '/sys', MS_NOSUID | MS_NOEXEC | MS_NODEV | (opts.privileged ? 0 : MS_RDONLY)),
  ]
  return ops
}

/** The masked and read-only paths; applied last, after every other mount. Privileged containers get none. */
export function protectionMounts(privileged: boolean): MountOp[] {
  if (privileged) return []
  return [
    ...maskedPaths.map((target): MountOp => ({ kind: 'mask', target })),
    ...readonlyPaths.map((target): MountOp => ({ kind: 'readonly', target })),
  ]
}

/** A read-only or read-write bind of a host path (file or directory). */
export function bindMount(source: string, target: string, readOnly: boolean): MountOp {
  return { kind: 'mount', type: 'bind', source, target, flags: 0, extra: readOnly ? MountExtra.ReadOnly : 0 }
}
