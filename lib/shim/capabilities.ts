/**
 * Linux capabilities by name, and Docker's default set.
 * @module
 */
import { InvalidArgumentError } from '../errors'

/** Capability numbers from linux/capability.h. */
const capabilityNumbers: Record<string, number> = {
  CHOWN: 0, DAC_OVERRIDE: 1, DAC_READ_SEARCH: 2, FOWNER: 3, FSETID: 4, KILL: 5, SETGID: 6, SETUID: 7,
  SETPCAP: 8, LINUX_IMMUTABLE: 9, NET_BIND_SERVICE: 10, NET_BROADCAST: 11, NET_ADMIN: 12, NET_RAW: 13,
  IPC_LOCK: 14, IPC_OWNER: 15, SYS_MODULE: 16, SYS_RAWIO: 17, SYS_CHROOT: 18, SYS_PTRACE: 19, SYS_PACCT: 20,
  SYS_ADMIN: 21, SYS_BOOT: 22, SYS_NICE: 23, SYS_RESOURCE: 24, SYS_TIME: 25, SYS_TTY_CONFIG: 26, MKNOD: 27,
  LEASE: 28, AUDIT_WRITE: 29, AUDIT_CONTROL: 30, SETFCAP: 31, MAC_OVERRIDE: 32, MAC_ADMIN: 33, SYSLOG: 34,
  WAKE_ALARM: 35, BLOCK_SUSPEND: 36, AUDIT_READ: 37, PERFMON: 38, BPF: 39, CHECKPOINT_RESTORE: 40,
}

/** Docker's default capabilities (moby's oci/caps/defaults.go). */
export const defaultCapabilities = [
  'CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP',
  'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE',
]

/** Normalises "cap_net_admin", "NET_ADMIN" or "CAP_NET_ADMIN" to "NET_ADMIN"; throws on unknown names. */
function normalise(name: string): string {
  const upper = name.toUpperCase().replace(/^CAP_/, '')
  if (upper !== 'ALL' && !(upper in capabilityNumbers))
    throw new InvalidArgumentError(`unknown capability "${name}" (expected a name such as NET_ADMIN or ALL)`)
  return upper
}

/**
 * The capability set for a container, as a bit mask, decided as Docker does
 * (moby oci/caps TweakCapabilities): privileged gets all of them whatever
 * `capDrop` says; `capAdd` ALL gives all but the dropped ones; `capDrop` ALL
 * gives just the added ones; otherwise the defaults minus `capDrop`, then
 * plus `capAdd` (a name in both is kept).
 */
export function capabilitySet(opts: { capAdd?: string[]; capDrop?: string[]; privileged?: boolean }): bigint {
  const all = Object.keys(capabilityNumbers)
  const add = (opts.capAdd ?? []).map(normalise)
  const drop = (opts.capDrop ?? []).map(normalise)
  let names: string[]
  if (opts.privileged) names = all
  else if (add.includes('ALL')) names = all.filter((n) => !drop.includes(n))
  else if (drop.includes('ALL')) names = add
  else names = [...defaultCapabilities.filter((n) => !drop.includes(n)), ...add]
  let mask = 0n
  for (const n of names) mask |= 1n << BigInt(capabilityNumbers[n])
  return mask
}

/** The names in a capability mask, as Docker's seccomp profiles spell them ("CAP_CHOWN", ...). */
export function capabilityNames(mask: bigint): string[] {
  return Object.entries(capabilityNumbers)
    .filter(([, n]) => mask & (1n << BigInt(n)))
    .map(([name]) => `CAP_${name}`)
}
