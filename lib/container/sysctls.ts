/**
 * `docker run --sysctl`: the kernel parameters a container may set in its
 * own namespaces, as Docker (runc's validator) allows them: the IPC ones
 * (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*), kernel.domainname
 * (UTS), and net.* when the container has a network namespace of its own.
 * Anything else would change the host, so it is EINVALID at create.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import type { MountOp } from '../shim/spec'

const ipcNames = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'])

/** Why a sysctl cannot be set in a container of this network mode, or undefined when it can. */
function refusal(name: string, networkMode: string): string | undefined {
  if (ipcNames.has(name) || name.startsWith('fs.mqueue.') || name === 'kernel.domainname') return undefined
  if (name === 'kernel.hostname') return 'set the hostname with the hostname option'
  if (!name.startsWith('net.')) return 'only namespaced parameters may be set: net.*, fs.mqueue.*, kernel.domainname, kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem, kernel.shmall, kernel.shmmax, kernel.shmmni, kernel.shm_rmid_forced'
  if (networkMode === 'host') return 'a container on the host network shares the host\'s network namespace; set it on the host, or use another network'
  if (networkMode.startsWith('container:')) return 'the container joins another container\'s network namespace; set it on that container'
  return undefined
}

/** The `sysctls` option checked against the network mode; EINVALID for one a container may not set. */
export function checkedSysctls(sysctls: unknown, networkMode: string): Record<string, string> | undefined {
  if (sysctls === undefined) return undefined
  if (!sysctls || typeof sysctls !== 'object' || Array.isArray(sysctls)) throw new InvalidArgumentError('option "sysctls" must be an object of names and values, e.g. { "net.ipv4.ip_unprivileged_port_start": "0" }')
  for (const [name, value] of Object.entries(sysctls)) {
    if (!/^[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$/.test(name)) throw new InvalidArgumentError(`sysctl ${JSON.stringify(name)}: not a parameter name (dotted, as net.ipv4.ip_forward)`)
    if (typeof value !== 'string') throw new InvalidArgumentError(`sysctl ${name}: the value must be a string, e.g. "1"`)
    const why = refusal(name, networkMode)
    if (why) throw new InvalidArgumentError(`sysctl ${name} is not allowed in a container: ${why}`)
  }
  return sysctls as Record<string, string>
}

/** The shim's writes of a record's sysctls, done once /proc is mounted, before /proc/sys is made read-only. */
export function sysctlOps(sysctls: Record<string, string> | undefined): MountOp[] {
  return Object.entries(sysctls ?? {}).map(([name, value]): MountOp => ({ kind: 'sysctl', target: `/proc/sys/${name.replace(/\./g, '/')}`, value }))
}
