// A container's limits and counters read from the kernel's own files, in whichever cgroup layout
// the machine has (v1 per-controller hierarchies on this host, pure v2 in the VM lane's guests:
// test/vm), so the limits tests assert the same facts on both. The layout comes from the mount
// table; the files and their formats are the kernel's, not the library's.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { detectLayout } from '../../lib/cgroups/layout'

/** True when the cgroups are one unified (v2) hierarchy at /sys/fs/cgroup. */
export const isV2 = detectLayout().name === 'v2'

/** One fact about a cgroup: the v1 controller and file holding it, the v2 file, and how to read each. */
interface Knob {
  v1: [controller: string, file: string, parse?: (text: string) => string]
  v2: [file: string, parse?: (text: string) => string]
}

const field = (key: string) => (text: string) => new RegExp(`^${key} (\\d+)$`, 'm').exec(text)?.[1] ?? ''
const sumColumn = (re: RegExp) => (text: string) => String([...text.matchAll(re)].reduce((s, m) => s + Number(m[1]), 0))

const knobs = {
  pidsCurrent: { v1: ['pids', 'pids.current'], v2: ['pids.current'] },
  pidsMax: { v1: ['pids', 'pids.max'], v2: ['pids.max'] },
  /** Forks the kernel refused at the limit. */
  pidsRefused: { v1: ['pids', 'pids.events', field('max')], v2: ['pids.events', field('max')] },
  memoryLimit: { v1: ['memory', 'memory.limit_in_bytes'], v2: ['memory.max'] },
  /** Swap: v1 counts memory plus swap, v2 swap alone. */
  memorySwapLimit: { v1: ['memory', 'memory.memsw.limit_in_bytes'], v2: ['memory.swap.max'] },
  /** What the kernel reclaims last: v1's soft limit, v2's memory.low. */
  memoryReservation: { v1: ['memory', 'memory.soft_limit_in_bytes'], v2: ['memory.low'] },
  /** The CPU share: v1's shares, v2's weight (1..10000). */
  cpuShare: { v1: ['cpu', 'cpu.shares'], v2: ['cpu.weight'] },
  cpusetCpus: { v1: ['cpuset', 'cpuset.cpus'], v2: ['cpuset.cpus'] },
  cpuQuotaUs: { v1: ['cpu', 'cpu.cfs_quota_us'], v2: ['cpu.max', (t) => t.split(' ')[0]!] },
  cpuPeriodUs: { v1: ['cpu', 'cpu.cfs_period_us'], v2: ['cpu.max', (t) => t.split(' ')[1]!] },
  cpuUsageNs: { v1: ['cpuacct', 'cpuacct.usage'], v2: ['cpu.stat', (t) => String(Number(field('usage_usec')(t)) * 1000)] },
  /** CFS bandwidth periods so far (the quota is being enforced). */
  cpuPeriods: { v1: ['cpu', 'cpu.stat', field('nr_periods')], v2: ['cpu.stat', field('nr_periods')] },
  /** 'frozen' or 'thawed', as the freezer reports it. */
  freezer: { v1: ['freezer', 'freezer.state', (t) => (t === 'FROZEN' ? 'frozen' : 'thawed')], v2: ['cgroup.events', (t) => (field('frozen')(t) === '1' ? 'frozen' : 'thawed')] },
  procs: { v1: ['memory', 'cgroup.procs'], v2: ['cgroup.procs'] },
  /** Bytes written to block devices. */
  ioWriteBytes: { v1: ['blkio', 'blkio.throttle.io_service_bytes_recursive', sumColumn(/^\S+ Write (\d+)$/gm)], v2: ['io.stat', sumColumn(/\bwbytes=(\d+)/g)] },
} satisfies Record<string, Knob>

/** The name of a fact {@link cgroupValue} reads. */
export type KnobName = keyof typeof knobs

/** The host path of a process's cgroup directory (for `controller` on v1), from /proc/<pid>/cgroup. */
export function cgroupDir(pid: number, controller: string): string {
  const lines = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')
  const line = isV2 ? lines.find((l) => l.startsWith('0::')) : lines.find((l) => l.split(':')[1]?.split(',').includes(controller))
  if (!line) throw new Error(`process ${pid} is in no ${isV2 ? 'unified' : controller} hierarchy`)
  const rel = line.split(':')[2]!
  return isV2 ? path.join('/sys/fs/cgroup', rel) : path.join('/sys/fs/cgroup', controller, rel)
}

/** A fact about the cgroup of process `pid`, read from the host. */
export function cgroupValue(pid: number, name: KnobName): string {
  const knob: Knob = knobs[name]
  const [controller, v1File, v1Parse] = knob.v1
  const [file, parse] = isV2 ? [knob.v2[0], knob.v2[1]] : [v1File, v1Parse]
  const text = fs.readFileSync(path.join(cgroupDir(pid, controller), file), 'utf8').trim()
  return parse ? parse(text) : text
}

/** Where a container sees a fact's file, inside its own cgroup namespace mounted at /sys/fs/cgroup. */
export function insidePath(name: KnobName): string {
  const knob: Knob = knobs[name]
  return isV2 ? `/sys/fs/cgroup/${knob.v2[0]}` : `/sys/fs/cgroup/${knob.v1[0]}/${knob.v1[1]}`
}

/** The /proc/<pid>/cgroup line prefix of the hierarchy the memory limit lives in (":memory:" or "0::"). */
export const memoryLinePrefix = isV2 ? '0::' : ':memory:'
