/**
 * `docker top`: the container's processes as the host sees them, from
 * /proc of each pid listed in its cgroup.
 *
 * @module
 */
import * as fs from 'node:fs'

/** One process of a container, with host pids. */
export interface ProcessInfo {
  /** Process id, as the host numbers it (Docker's `PID` column of `docker top`). */
  pid: number
  /** Parent's process id, on the host. */
  ppid: number
  /** Real uid (as the host numbers it; the same inside without user namespaces). */
  uid: number
  /** R running, S sleeping, D disk wait, Z zombie, T stopped... */
  state: string
  /** User plus system CPU time, ms. */
  cpuTimeMs: number
  /** Resident memory, bytes. */
  rss: number
  /** The command line (the process name in brackets when it has none, like ps). */
  command: string
}

const ticksPerSecond = 100 // USER_HZ, fixed at 100 for the /proc ABI on Linux

/** Clock ticks of /proc/<pid>/stat as milliseconds. */
export function ticksToMs(ticks: number): number {
  return (ticks * 1000) / ticksPerSecond
}

/**
 * /proc/<pid>/stat: the command name and the fields after it, `fields[0]`
 * being the state (field 3 of proc(5)); throws when the process is gone.
 */
export function readStat(pid: number): { comm: string; fields: string[] } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  // comm may hold spaces and parentheses: the fields start after the last ')'.
  const close = stat.lastIndexOf(')')
  return { comm: stat.slice(stat.indexOf('(') + 1, close), fields: stat.slice(close + 2).split(' ') }
}

/** Reads /proc/<pid>; undefined when the process has gone in the meantime. */
export function processInfo(pid: number): ProcessInfo | undefined {
  try {
    const { comm, fields: f } = readStat(pid)
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? 0)
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ')
    return {
      pid,
      ppid: Number(f[1]),
      uid,
      state: f[0]!,
      cpuTimeMs: ticksToMs(Number(f[11]) + Number(f[12])),
      rss: Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0) * 1024,
      command: cmdline || `[${comm}]`,
    }
  } catch {
    return undefined
  }
}

/** The processes of the given pids, in pid order, skipping those that ended. */
export function processTable(pids: number[]): ProcessInfo[] {
  return [...pids].sort((a, b) => a - b).flatMap((p) => processInfo(p) ?? [])
}

