/**
 * The resource options of `docker run` (memory, CPU, pids, ulimits, shm),
 * validated and normalised into plain numbers once, at create time.
 *
 * @module
 */
import * as os from 'node:os'
import { InvalidArgumentError } from '../errors'
import { cpusToQuota, defaultCpuPeriod, parseBytes } from './units'

/** A ulimit: one number for both limits, or soft and hard apart. -1 is unlimited. */
export type Ulimit = number | {
  /** The limit the kernel enforces; the process may raise it up to `hard`. */
  soft: number
  /** The ceiling of `soft`; only a privileged process may raise it. */
  hard: number
}

/** `--ulimit` names (setrlimit's resources without the RLIMIT_ prefix, lower case), as Docker accepts them. */
export interface Ulimits {
  /** Core file size (RLIMIT_CORE). */
  core?: Ulimit
  /** CPU seconds (RLIMIT_CPU). */
  cpu?: Ulimit
  /** Data segment bytes (RLIMIT_DATA). */
  data?: Ulimit
  /** File size bytes (RLIMIT_FSIZE). */
  fsize?: Ulimit
  /** File locks (RLIMIT_LOCKS). */
  locks?: Ulimit
  /** Locked memory bytes (RLIMIT_MEMLOCK). */
  memlock?: Ulimit
  /** POSIX message queue bytes (RLIMIT_MSGQUEUE). */
  msgqueue?: Ulimit
  /** Nice ceiling (RLIMIT_NICE). */
  nice?: Ulimit
  /** Open files (RLIMIT_NOFILE). */
  nofile?: Ulimit
  /** Processes of the user (RLIMIT_NPROC). */
  nproc?: Ulimit
  /** Resident set bytes (RLIMIT_RSS, ignored by Linux). */
  rss?: Ulimit
  /** Real-time priority (RLIMIT_RTPRIO). */
  rtprio?: Ulimit
  /** Real-time CPU µs (RLIMIT_RTTIME). */
  rttime?: Ulimit
  /** Queued signals (RLIMIT_SIGPENDING). */
  sigpending?: Ulimit
  /** Stack bytes (RLIMIT_STACK). */
  stack?: Ulimit
  /** Address space bytes (RLIMIT_AS). */
  as?: Ulimit
}

/** Resource options of {@link run}, named like `docker run`'s flags. Sizes are bytes or strings like '512m'. */
export interface ResourceOptions {
  /** Memory limit (`--memory`), at least 6 MiB. cgroup v2 memory.max, v1 memory.limit_in_bytes. */
  memory?: number | string
  /** Memory plus swap (`--memory-swap`), at least `memory`; -1 for unlimited swap. Default: twice `memory`. */
  memorySwap?: number | string
  /** Soft limit (`--memory-reservation`): memory.low (v2), memory.soft_limit_in_bytes (v1). */
  memoryReservation?: number | string
  /** Do not OOM-kill the container (`--oom-kill-disable`, cgroup v1 only): it waits for memory instead. */
  oomKillDisable?: boolean
  /** CPUs (`--cpus`), e.g. 1.5: a CFS quota of cpus × 100 ms per 100 ms. */
  cpus?: number
  /** Relative CPU weight (`--cpu-shares`, default 1024): cpu.shares (v1), cpu.weight (v2). */
  cpuShares?: number
  /** CPUs allowed (`--cpuset-cpus`), e.g. '0-1,3'. */
  cpusetCpus?: string
  /** CFS period in µs (`--cpu-period`). */
  cpuPeriod?: number
  /** CFS quota in µs per period (`--cpu-quota`); -1 for none. */
  cpuQuota?: number
  /** Most processes and threads at once (`--pids-limit`); 0 or -1 for unlimited. */
  pidsLimit?: number
  /** Per-process limits set with setrlimit before the program runs (`--ulimit`). */
  ulimits?: Ulimits
  /** Size of the /dev/shm tmpfs (`--shm-size`), default 64 MiB. */
  shmSize?: number | string
}

/** The option names above, for the option checks of `run()`. */
export const resourceOptionNames = [
  'memory', 'memorySwap', 'memoryReservation', 'oomKillDisable', 'cpus', 'cpuShares', 'cpusetCpus', 'cpuPeriod', 'cpuQuota',
  'pidsLimit', 'ulimits', 'shmSize',
] as const satisfies readonly (keyof ResourceOptions)[]

/** setrlimit resource numbers (the generic Linux ones, the same on x86_64 and aarch64). */
const rlimitNumbers: Record<keyof Ulimits, number> = {
  cpu: 0, fsize: 1, data: 2, stack: 3, core: 4, rss: 5, nproc: 6, nofile: 7, memlock: 8, as: 9, locks: 10, sigpending: 11,
  msgqueue: 12, nice: 13, rtprio: 14, rttime: 15,
}

/** One setrlimit call: resource number, soft and hard (-1 is RLIM_INFINITY). */
export interface Rlimit {
  /** The `ulimits` key, e.g. "nofile". */
  name: keyof Ulimits
  /** Linux's RLIMIT_* number, e.g. 7 for RLIMIT_NOFILE. */
  resource: number
  /** Soft limit; -1 is unlimited. */
  soft: number
  /** Hard limit; -1 is unlimited. */
  hard: number
}

/** Normalised limits, in kernel units, stored with the container. Absent means "not limited". */
export interface Resources {
  /** Bytes. */
  memory?: number
  /** Bytes of memory plus swap; -1 unlimited. */
  memorySwap?: number
  /** Bytes. */
  memoryReservation?: number
  /** The OOM killer is off for the container (cgroup v1 only). */
  oomKillDisable?: boolean
  /** µs per period. */
  cpuQuota?: number
  /** µs. */
  cpuPeriod?: number
  /** Relative CPU weight, Docker's scale (1024 is the default weight). */
  cpuShares?: number
  /** CPUs allowed, e.g. "0-1,3". */
  cpusetCpus?: string
  /** Most processes and threads at once. */
  pidsLimit?: number
  /** The ulimits, one setrlimit call each before the program runs; [] for none. */
  rlimits: Rlimit[]
  /** Bytes of /dev/shm. */
  shmSize?: number
}

/** Docker's minimum memory limit. */
export const minimumMemory = 6 * 1024 * 1024

function integer(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new InvalidArgumentError(`${option}: expected an integer, got ${JSON.stringify(value)}`)
  return value
}

function rlimit(name: string, value: unknown): Rlimit {
  if (!Object.hasOwn(rlimitNumbers, name))
    throw new InvalidArgumentError(`ulimits: unknown name "${name}"; known: ${Object.keys(rlimitNumbers).join(', ')}`)
  const key = name as keyof Ulimits
  const pair = typeof value === 'number' ? { soft: value, hard: value } : (value as { soft?: unknown; hard?: unknown })
  const soft = integer(pair?.soft, `ulimits.${name}.soft`)
  const hard = integer(pair?.hard, `ulimits.${name}.hard`)
  const rank = (n: number) => (n < 0 ? Infinity : n)
  if (rank(soft) > rank(hard)) throw new InvalidArgumentError(`ulimits.${name}: soft limit ${soft} is above the hard limit ${hard}`)
  return { name: key, resource: rlimitNumbers[key], soft, hard }
}

function memoryOptions(o: ResourceOptions, r: Resources): void {
  if (o.memory !== undefined) {
    r.memory = parseBytes(o.memory, 'memory')
    if (r.memory < minimumMemory) throw new InvalidArgumentError(`memory: ${r.memory} bytes is below the minimum of 6 MiB ('6m')`)
  }
  if (o.memorySwap !== undefined) {
    const swap = o.memorySwap === -1 || o.memorySwap === '-1' ? -1 : parseBytes(o.memorySwap, 'memorySwap')
    if (r.memory === undefined) throw new InvalidArgumentError('memorySwap needs memory: it is the limit of memory plus swap')
    if (swap !== -1 && swap < r.memory) throw new InvalidArgumentError(`memorySwap (${swap} bytes) must be at least memory (${r.memory} bytes), or -1 for unlimited swap`)
    r.memorySwap = swap
  }
  if (o.memoryReservation !== undefined) {
    r.memoryReservation = parseBytes(o.memoryReservation, 'memoryReservation')
    if (r.memory !== undefined && r.memoryReservation > r.memory) throw new InvalidArgumentError('memoryReservation must be below memory')
  }
  if (o.oomKillDisable) r.oomKillDisable = true
}

function cpuOptions(o: ResourceOptions, r: Resources, hostCpus: number): void {
  if (o.cpus !== undefined) {
    if (typeof o.cpus !== 'number' || !(o.cpus > 0)) throw new InvalidArgumentError(`cpus: expected a positive number such as 1.5, got ${JSON.stringify(o.cpus)}`)
    if (o.cpus > hostCpus) throw new InvalidArgumentError(`cpus: ${o.cpus} is more than the ${hostCpus} CPUs this host has (range 0.01 to ${hostCpus})`)
    if (o.cpuQuota !== undefined || o.cpuPeriod !== undefined) throw new InvalidArgumentError('cpus conflicts with cpuQuota and cpuPeriod: give one or the other')
    r.cpuPeriod = defaultCpuPeriod
    r.cpuQuota = cpusToQuota(o.cpus)
  }
  if (o.cpuPeriod !== undefined) {
    r.cpuPeriod = integer(o.cpuPeriod, 'cpuPeriod')
    if (r.cpuPeriod < 1000 || r.cpuPeriod > 1_000_000) throw new InvalidArgumentError('cpuPeriod: must be between 1000 and 1000000 µs')
  }
  if (o.cpuQuota !== undefined) {
    r.cpuQuota = integer(o.cpuQuota, 'cpuQuota')
    if (r.cpuQuota !== -1 && r.cpuQuota < 1000) throw new InvalidArgumentError('cpuQuota: must be at least 1000 µs, or -1 for none')
  }
  if (o.cpuShares !== undefined) {
    r.cpuShares = integer(o.cpuShares, 'cpuShares')
    if (r.cpuShares < 0) throw new InvalidArgumentError('cpuShares: must not be negative')
  }
  if (o.cpusetCpus !== undefined) r.cpusetCpus = cpuset(o.cpusetCpus, hostCpus)
}

/** Checks a cpuset list ('0-2,4') against the host's CPUs. */
function cpuset(value: unknown, hostCpus: number): string {
  if (typeof value !== 'string' || !/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(value))
    throw new InvalidArgumentError(`cpusetCpus: expected a list like '0-1,3', got ${JSON.stringify(value)}`)
  for (const part of value.split(',')) {
    const [a, b = a] = part.split('-').map(Number) as [number, number?]
    if (b! < a || b! >= hostCpus) throw new InvalidArgumentError(`cpusetCpus: ${part} is not within this host's CPUs 0-${hostCpus - 1}`)
  }
  return value
}

/** Validates and normalises the resource options; `hostCpus` defaults to this host's count. */
export function resolveResources(o: ResourceOptions, hostCpus = os.availableParallelism()): Resources {
  const r: Resources = { rlimits: [] }
  memoryOptions(o, r)
  cpuOptions(o, r, hostCpus)
  if (o.pidsLimit !== undefined) {
    const limit = integer(o.pidsLimit, 'pidsLimit')
    if (limit > 0) r.pidsLimit = limit
  }
  if (o.ulimits !== undefined) {
    if (typeof o.ulimits !== 'object' || o.ulimits === null) throw new InvalidArgumentError('ulimits: expected an object such as { nofile: { soft: 1024, hard: 4096 } }')
    r.rlimits = Object.entries(o.ulimits).map(([name, value]) => rlimit(name, value))
  }
  if (o.shmSize !== undefined) {
    r.shmSize = parseBytes(o.shmSize, 'shmSize')
    if (r.shmSize <= 0) throw new InvalidArgumentError('shmSize: must be more than 0')
  }
  return r
}

/** The limits after `update()`: the new options over the current ones (ulimits and shm size cannot change). */
export function mergeResources(current: Resources, o: ResourceOptions, hostCpus?: number): Resources {
  const update = resolveResources(o, hostCpus)
  const merged: Resources = { ...current, ...stripUndefined(update), rlimits: current.rlimits }
  // A new memory limit above the old swap total must carry the swap total with it, as docker update does.
  if (update.memory !== undefined && update.memorySwap === undefined && current.memorySwap !== undefined && current.memorySwap !== -1)
    merged.memorySwap = Math.max(current.memorySwap, update.memory * 2)
  if (o.cpus !== undefined) merged.cpuPeriod = update.cpuPeriod
  return merged
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
