/**
 * One `docker stats` sample of a container: its cgroup's counters, plus the
 * network counters of its network namespace, read from the host.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import type { CgroupCounters } from './driver'
import { cpuPercent } from './units'

/** One sample, like a row of `docker stats --no-stream`. */
export interface ContainerStats {
  /** When the sample was taken (ISO 8601). */
  read: string
  /** CPU use (`docker stats` CPU %). */
  cpu: {
    /** CPU use since the previous sample (or since start, for the first), 100 = one CPU busy. */
    percent: number
    /** CPU time the container used in total, ns. */
    usageNs: number
    /** CPUs of the host. */
    onlineCpus: number
  }
  /** Memory use against the limit (`docker stats` MEM USAGE / LIMIT, MEM %). */
  memory: {
    /** Bytes in use, without the inactive file cache (as `docker stats`). */
    usage: number
    /** The limit, or the host's memory when there is none. */
    limit: number
    /** usage / limit × 100. */
    percent: number
  }
  /** Processes (`docker stats` PIDS). */
  pids: {
    /** Processes and threads in the container. */
    current: number
  }
  /** Traffic of the container's interfaces other than lo (zero for host networking: it has none of its own). */
  network: {
    /** Bytes received, since the container started. */
    rxBytes: number
    /** Bytes sent, since the container started. */
    txBytes: number
    /** Packets received. */
    rxPackets: number
    /** Packets sent. */
    txPackets: number
  }
  /** Bytes read and written on block devices (`docker stats` BLOCK I/O), from the cgroup's io/blkio counters. */
  blockIo: {
    /** Bytes read, since the container started. */
    read: number
    /** Bytes written, since the container started. */
    write: number
  }
}

/** What a sample is computed against: the previous one's CPU time and clock. */
export interface CpuMark {
  cpuNs: number
  /** process.hrtime.bigint() of that sample, ns. */
  at: bigint
}

/** Sums /proc/<pid>/net/dev (the pid's network namespace) over every interface but lo. */
export function netCounters(pid: number | undefined): ContainerStats['network'] {
  const sum = { rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0 }
  if (!pid) return sum
  let text: string
  try {
    text = fs.readFileSync(`/proc/${pid}/net/dev`, 'utf8')
  } catch {
    return sum // the process just ended
  }
  for (const line of text.split('\n').slice(2)) {
    const [name, rest] = line.split(':')
    if (!rest || name!.trim() === 'lo') continue
    const f = rest.trim().split(/\s+/).map(Number)
    sum.rxBytes += f[0]!
    sum.rxPackets += f[1]!
    sum.txBytes += f[8]!
    sum.txPackets += f[9]!
  }
  return sum
}

/** Builds a sample from counters; `since` is the previous sample's mark. */
export function toStats(c: CgroupCounters, network: ContainerStats['network'], since: CpuMark, now: CpuMark): ContainerStats {
  const limit = c.memoryLimit ?? os.totalmem()
  return {
    read: new Date().toISOString(),
    cpu: { percent: cpuPercent(now.cpuNs - since.cpuNs, Number(now.at - since.at)), usageNs: c.cpuNs, onlineCpus: os.availableParallelism() },
    memory: { usage: c.memoryUsage, limit, percent: limit ? (c.memoryUsage / limit) * 100 : 0 },
    pids: { current: c.pids },
    network,
    blockIo: { read: c.blkioRead, write: c.blkioWrite },
  }
}
