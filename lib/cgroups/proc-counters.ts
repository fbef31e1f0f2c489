/**
 * A container's counters without a cgroup to read them from (a rootless
 * runtime with no delegated cgroup, or a delegated one whose controllers
 * lack memory or pids): what /proc tells of its live processes. CPU time
 * counts each process's own time plus that of the children it reaped, so
 * the total only loses the time of processes that ended unreaped.
 *
 * @module
 */
import * as fs from 'node:fs'
import type { CgroupCounters } from './driver'
import { readStat, ticksToMs } from './top'

/** The processes in the pid namespace of `pid` (the container's first process): every /proc entry whose ns/pid link matches. */
export function pidNamespaceMembers(pid: number): number[] {
  const ns = pidNamespaceOf(pid)
  if (!ns) return []
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((p) => pidNamespaceOf(p) === ns)
}

/** The ns/pid link of a process; undefined when it is gone or not ours to look at. */
function pidNamespaceOf(pid: number): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/pid`)
  } catch {
    return undefined
  }
}

/** Counters summed over `pids` from /proc: no limit, no OOM kills (nothing to read them from). */
export function procCounters(pids: number[]): CgroupCounters {
  const sum: CgroupCounters = { cpuNs: 0, memoryUsage: 0, pids: 0, blkioRead: 0, blkioWrite: 0, oomKills: 0 }
  for (const pid of pids) {
    const one = processCounters(pid)
    if (!one) continue // it ended meanwhile
    sum.cpuNs += one.cpuNs
    sum.memoryUsage += one.memoryUsage
    sum.pids += one.pids
    sum.blkioRead += one.blkioRead
    sum.blkioWrite += one.blkioWrite
  }
  return sum
}

/** One process's share: utime + stime + cutime + cstime, VmRSS, its threads, storage bytes from /proc/<pid>/io. */
function processCounters(pid: number): Omit<CgroupCounters, 'oomKills'> | undefined {
  try {
    const { fields: f } = readStat(pid)
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
    const io = fs.readFileSync(`/proc/${pid}/io`, 'utf8')
    const field = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0)
    return {
      cpuNs: ticksToMs(Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 1e6,
      memoryUsage: field(status, 'VmRSS') * 1024,
      pids: field(status, 'Threads') || 1,
      blkioRead: field(io, 'read_bytes'),
      blkioWrite: field(io, 'write_bytes'),
    }
  } catch {
    return undefined
  }
}
