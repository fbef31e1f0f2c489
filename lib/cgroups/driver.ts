/**
 * What the container layer needs from a cgroup hierarchy, whatever the
 * layout: the two backends (v1.ts, v2.ts) implement it, and everything
 * above speaks only this interface.
 *
 * @module
 */
import * as fs from 'node:fs'
import { InvalidArgumentError } from '../errors'
import { backgroundAsyncCalls } from '../sys/koffi-async'
import { rmdirEachOffThread } from '../sys/removals'
import type { MountOp } from '../shim/spec'
import type { DevicePolicy } from './device-rules'
import type { LayoutName } from './layout'
import type { Resources } from './resources'

/** Raw counters of one cgroup, in kernel units. */
export interface CgroupCounters {
  /** CPU time used, ns. */
  cpuNs: number
  /** Memory charged, bytes, minus the inactive file cache (as `docker stats`). */
  memoryUsage: number
  /** Memory limit, bytes; undefined when unlimited. */
  memoryLimit?: number
  pids: number
  /** Bytes read and written on block devices. */
  blkioRead: number
  blkioWrite: number
  /** Processes the kernel's OOM killer killed in this cgroup. */
  oomKills: number
}

/** One cgroup layout's way of doing things. `rel` is a cgroup path relative to where this runtime nests its cgroups. */
export interface CgroupDriver {
  readonly layout: LayoutName
  /** Throws EUNSUPPORTED when a set option needs a controller the host lacks. */
  check(res: Resources): void
  /**
   * Creates the cgroup (and missing parents) with the limits applied and the
   * device rules in force, replacing one a previous run left; nothing is left
   * on failure.
   */
  create(rel: string, res: Resources, devices: DevicePolicy): void
  /** Applies new limits to an existing cgroup. */
  apply(rel: string, res: Resources): void
  /**
   * The files a single-threaded process writes "0" into to join the cgroup (one per hierarchy):
   * cgroup.procs on v2; v1's `tasks`, which moves the writer's thread alone and so skips the
   * kernel's global threadgroup lock, whose write side waits for an RCU grace period (milliseconds
   * on a busy host) that cgroup.procs pays on every start.
   */
  joinFiles(rel: string): string[]
  /** The directory a child can be cloned into (clone3's CLONE_INTO_CGROUP, cgroup v2 only); undefined on v1. */
  cloneInto(rel: string): string | undefined
  /** Removes the cgroup; false while processes remain in it. */
  remove(rel: string): boolean
  /** The cgroup's directories (one per hierarchy), for a removal off the event loop ({@link removeDirsOffThread}). */
  dirs(rel: string): string[]
  exists(rel: string): boolean
  /** Names of the child cgroups. */
  children(rel: string): string[]
  counters(rel: string): CgroupCounters
  /**
   * The file whose `oom_kill` line counts the OOM killer's kills in the cgroup ({@link readOomKills}; the
   * shim reads it as a program exits); undefined without a memory controller.
   */
  oomCounterFile(rel: string): string | undefined
  /** Asks the freezer to freeze or thaw; {@link frozen} tells when it is done. */
  setFrozen(rel: string, frozen: boolean): void
  /** True when every task is frozen, false when thawed, undefined while in between. */
  frozen(rel: string): boolean | undefined
  /** Host pids of the processes in the cgroup. */
  pids(rel: string): number[]
  /** How the container's own view of its cgroups is mounted at /sys/fs/cgroup (in its cgroup namespace). */
  containerMounts(readOnly: boolean): MountOp[]
  /** Lets go of what the driver holds for later cgroups (v2: its loaded device programs); the cgroups it made stay as they are. */
  close(): void
}

/** Reads a cgroup file, trimmed; undefined when it does not exist. */
export function readValue(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim()
  } catch (err) {
    // ENODEV: the cgroup was removed after the file was looked up (another process's stop or remove).
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENODEV') return undefined
    throw err
  }
}

/** A number from a cgroup file; 0 when absent. */
export function readNumber(file: string): number {
  return Number(readValue(file) ?? 0) || 0
}

/** The kills an OOM counter file ({@link CgroupDriver.oomCounterFile}) counts: 0 without one, or once its cgroup is gone. */
export function readOomKills(file: string | undefined): number {
  return file ? (readKeyed(file).get('oom_kill') ?? 0) : 0
}

/** `key value` lines (memory.stat, cpu.stat, memory.events, memory.oom_control) as a map. */
export function readKeyed(file: string): Map<string, number> {
  const map = new Map<string, number>()
  for (const line of (readValue(file) ?? '').split('\n')) {
    const [k, v] = line.split(' ')
    if (k && v !== undefined) map.set(k, Number(v))
  }
  return map
}

/** Writes a cgroup file; a value the kernel refuses becomes EINVALID naming the file. */
export function writeValue(file: string, value: string | number): void {
  try {
    fs.writeFileSync(file, String(value))
  } catch (err) {
    throw refused(err, file, value)
  }
}

/**
 * Writes each of `values` to a cgroup file in turn, one write each on one open file (the kernel
 * takes every write as one value: a device rule each): as {@link writeValue} for each, without an
 * open and a close per value.
 */
export function writeValues(file: string, values: readonly string[]): void {
  if (!values.length) return
  const fd = fs.openSync(file, 'w')
  try {
    for (const value of values)
      try {
        fs.writeSync(fd, value)
      } catch (err) {
        throw refused(err, file, value)
      }
  } finally {
    fs.closeSync(fd)
  }
}

/** What a failed write of `value` to `file` throws: EINVALID naming them when the kernel refused the value. */
function refused(err: unknown, file: string, value: string | number): unknown {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'EINVAL' || code === 'EBUSY' || code === 'ERANGE' ? new InvalidArgumentError(`the kernel refused ${value} for ${file} (${code})`) : err
}

/** rmdir that reports "still in use" as false and "already gone" as true. */
export function removeDir(dir: string): boolean {
  try {
    fs.rmdirSync(dir)
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return true
    if (code === 'EBUSY' || code === 'ENOTEMPTY') return false
    throw err
  }
}

/**
 * {@link removeDir} of each of `dirs` on libuv's threadpool: true once every one is gone.
 * A v1 cgroup is a directory in each of eight hierarchies, each rmdir a wait for the kernel's cgroup
 * lock; on the event loop, a burst's exits made every start behind them wait for those. From the
 * main thread all of them in one native call (one callback on the event loop, not eight, in the
 * start that follows an exit: they take the same kernel lock in turn anyway); from a worker_thread,
 * which may not make background native calls (../sys/koffi-async), one fs call each, all at once.
 */
export async function removeDirsOffThread(dirs: readonly string[]): Promise<boolean> {
  if (backgroundAsyncCalls) return rmdirEachOffThread(dirs)
  const removed = await Promise.all(
    dirs.map((dir) =>
      fs.promises.rmdir(dir).then(
        () => true,
        (err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return true
          if (err.code === 'EBUSY' || err.code === 'ENOTEMPTY') return false
          throw err
        },
      ),
    ),
  )
  return removed.every(Boolean)
}

/** mkdir; false when the directory already exists. */
export function makeDir(dir: string): boolean {
  try {
    fs.mkdirSync(dir)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
}

/**
 * mkdir of a container's cgroup, replacing the leftover of a previous run;
 * false when a leftover still in use is kept. mkdir answers "exists" itself:
 * the container's cgroup is new on almost every start, and a lookup first
 * would walk its path twice in each hierarchy (eight on v1).
 */
export function makeFreshDir(dir: string): boolean {
  return makeDir(dir) || (removeDir(dir) && makeDir(dir))
}

/** Subdirectories of a cgroup directory (its child cgroups). */
export function childDirs(dir: string): string[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
}

/** Pids listed in a cgroup.procs file. */
export function readPids(file: string): number[] {
  return (readValue(file) ?? '').split('\n').filter(Boolean).map(Number)
}

/** Runs `fn`; when it throws, runs `undo` (best effort) and rethrows: a failed create leaves nothing. */
export function withUndo<T>(fn: () => T, undo: () => void): T {
  try {
    return fn()
  } catch (err) {
    try {
      undo()
    } catch {
      /* the first error is the one that matters */
    }
    throw err
  }
}
