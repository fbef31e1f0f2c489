/**
 * The cgroups of one runtime: a parent cgroup named after the runtime
 * (`minicontainer-<tag>`) and a child per container, named by its id.
 * The layout is detected on first use, and everything goes through the
 * backend for it (v1.ts or v2.ts).
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { SyscallError, UnsupportedError } from '../errors'
import { debug } from '../util/debug'
import type { CgroupJoin, MountOp } from '../shim/spec'
import { childDirs, readOomKills, removeDir, removeDirsOffThread, type CgroupCounters, type CgroupDriver } from './driver'
import { requireDeviceControl, type DevicePolicy } from './device-rules'
import { hostCloneIntoAppliesCpuset } from './cpuset-fork'
import { detectLayout, type Layout, type LayoutName } from './layout'
import { needed } from './needs'
import type { Resources } from './resources'
import { netCounters, toStats, type ContainerStats, type CpuMark } from './stats'
import { abandonedScopes, forgetScopeOwner, recordScopeOwner } from './scope-owners'
import { processTable, type ProcessInfo } from './top'
import { V1Driver } from './v1'
import { V2Driver } from './v2'

/** How long pause() and unpause() wait for the freezer. */
const freezeTimeoutMs = 10_000

/** What the shim needs to put a container into its cgroups. */
export interface CgroupSetup {
  join: CgroupJoin
  /** The container's /sys/fs/cgroup. */
  mounts: MountOp[]
}

/** The backend for a layout; undefined when the host has no cgroups mounted. */
export function driverFor(layout: Layout): CgroupDriver | undefined {
  if (layout.name === 'v2') return new V2Driver(layout.mountPoint, layout.controllers)
  if (layout.name === 'none') return undefined
  return new V1Driver(layout.name, layout.hierarchies)
}

/** Cgroups of one runtime's containers. */
export class CgroupService {
  private backend: CgroupDriver | undefined | null = null
  /** The previous stats sample per container, for CPU percentages. */
  private readonly marks = new Map<string, CpuMark>()
  /** Removals of containers' cgroups under way (release), by container id. */
  private readonly releasing = new Map<string, Promise<void>>()

  /** Whether this runtime's scope has its owner recorded (scope-owners.ts). */
  private ownerRecorded = false

  /**
   * @param scope - the runtime's parent cgroup name; @param detect - the layout (tests pass a fake one);
   * @param root - the runtime's root, recorded as the scope's owner so that the scope can be collected once the root is gone
   */
  constructor(
    private readonly scope: string,
    private readonly detect: () => Layout = detectLayout,
    private readonly root?: string,
  ) {}

  /** The backend, detected on first use; undefined without cgroups. */
  protected get driver(): CgroupDriver | undefined {
    if (this.backend === null) this.backend = driverFor(this.detect())
    return this.backend
  }

  /** The host's layout name, for messages. */
  get layout(): LayoutName {
    return this.driver?.layout ?? 'none'
  }

  /** Throws EUNSUPPORTED when an option needs a controller the host lacks. */
  check(res: Resources): void {
    if (this.driver) return this.driver.check(res)
    const [first] = needed(res)
    if (first) throw new UnsupportedError(first[0], 'none', first[1])
  }

  /**
   * Creates the container's cgroup with its limits and device rules
   * (replacing one a previous run left), before its program exists.
   * Undefined without cgroups, where only a privileged container may run
   * (EUNSUPPORTED otherwise: nothing would enforce its device rules).
   */
  prepare(id: string, res: Resources, opts: { readOnly: boolean; devices: DevicePolicy }): CgroupSetup | undefined {
    const driver = this.driver
    if (!driver) {
      this.check(res)
      requireDeviceControl(opts.devices, false, 'none')
      return undefined
    }
    const rel = this.rel(id)
    driver.create(rel, res, opts.devices)
    if (this.root && !this.ownerRecorded) {
      recordScopeOwner(this.scope, this.root, this.scopeDirs(driver, this.scope))
      this.ownerRecorded = true
    }
    this.marks.delete(id)
    // Where a child cloned into a cpuset cgroup keeps its parent's CPUs (cpuset-fork.ts), a container with
    // a cpuset joins by writing its pid, which applies the cgroup's CPUs.
    const intoDir = res.cpusetCpus === undefined || hostCloneIntoAppliesCpuset() ? driver.cloneInto(rel) : undefined
    const oomCounter = driver.oomCounterFile(rel)
    return { join: { joinFiles: driver.joinFiles(rel), ...(intoDir ? { intoDir } : {}), ...(oomCounter ? { oomCounter } : {}) }, mounts: driver.containerMounts(opts.readOnly) }
  }

  /** The container's cgroups for a process joining it (exec); undefined when it has none. */
  join(id: string): CgroupJoin | undefined {
    const driver = this.driver
    return driver?.exists(this.rel(id)) ? { joinFiles: driver.joinFiles(this.rel(id)) } : undefined
  }

  /**
   * Removes the container's cgroup once its last process is gone (the kernel may take a moment to let
   * go). A container's cgroup is released when its exit is settled and again when it is removed (which
   * must also cover exits no process of ours saw): the second finds it gone and makes no rmdir (8 on v1),
   * unless a start elsewhere made it again meanwhile. `exited`: a run's exit, seen here, releases a
   * cgroup that is there: no look first (a lookup in cgroupfs waits, on the event loop, on the kernfs
   * lock that a burst's mkdirs and rmdirs hold: ~0.9 ms per exit in a burst of 50; the rmdirs run on the threadpool).
   */
  async release(id: string, exited = false): Promise<void> {
    this.marks.delete(id)
    const driver = this.driver
    if (!driver || (!exited && !driver.exists(this.rel(id)))) return
    const dirs = driver.dirs(this.rel(id))
    // The rmdirs run on the threadpool (removeDirsOffThread); a start of the same container in this process
    // waits for them (released), so none removes the cgroup that start has just made.
    const removal = (async () => {
      for (let i = 0; i < 100 && !(await removeDirsOffThread(dirs)); i++) await delay(10)
    })()
    this.releasing.set(id, removal)
    try {
      await removal
    } finally {
      if (this.releasing.get(id) === removal) this.releasing.delete(id)
    }
  }

  /**
   * {@link release}, synchronously, for a process that is exiting: retries for up to `ms` while the
   * cgroup's last process is still dying (killed just before). What is left then goes to the next recovery.
   */
  releaseNow(id: string, ms = 1000): void {
    this.marks.delete(id)
    const driver = this.driver
    const rel = this.rel(id)
    const until = Date.now() + ms
    const pause = new Int32Array(new SharedArrayBuffer(4))
    while (driver?.exists(rel) && !driver.remove(rel) && Date.now() < until) Atomics.wait(pause, 0, 0, 2)
  }

  /** Resolves once a {@link release} of `id` under way in this process has ended (at once when none is). */
  released(id: string): Promise<void> {
    return (this.releasing.get(id) ?? Promise.resolve()).catch(() => {})
  }

  /** Whether the kernel's OOM killer killed a process of the container (memory.events / memory.oom_control). */
  oomKilled(id: string): boolean {
    const driver = this.driver
    // Only the OOM counter: it is read as every program ends, before wait() resolves.
    return !!driver && readOomKills(driver.oomCounterFile(this.rel(id))) > 0
  }

  /**
   * A stats sample; CPU percent relative to the previous call, or to `startedAt` for the first.
   * `pid` is the container's first process (undefined once it has exited); network counters are
   * read through it unless the container shares the host's network, whose counters are not its own.
   */
  stats(id: string, pid: number | undefined, startedAt: Date, sharesHostNetwork: boolean): ContainerStats {
    const counters = this.counters(id, pid)
    const now: CpuMark = { cpuNs: counters.cpuNs, at: process.hrtime.bigint() }
    const since = this.marks.get(id) ?? { cpuNs: 0, at: now.at - BigInt(Math.max(1, Date.now() - startedAt.getTime())) * 1_000_000n }
    this.marks.set(id, now)
    return toStats(counters, netCounters(sharesHostNetwork ? undefined : pid), since, now)
  }

  /** The container's counters for {@link stats}; `pid` is its first process, undefined once it has exited. */
  protected counters(id: string, _pid: number | undefined): CgroupCounters {
    return this.requireDriver('stats').counters(this.rel(id))
  }

  /** Applies new limits to a running container. */
  update(id: string, res: Resources): void {
    this.requireDriver('update').apply(this.rel(id), res)
  }

  /**
   * Freezes or thaws every process of the container and waits until the
   * kernel has done it. The v1 freezer only retries tasks it could not
   * freeze yet (one in the middle of a fork) when FROZEN is written again,
   * so the request is repeated, with a short thaw now and then, as runc does.
   * A freeze that does not settle is undone: the container is left running.
   */
  async setPaused(id: string, paused: boolean): Promise<void> {
    const driver = this.requireDriver(paused ? 'pause' : 'unpause')
    const rel = this.rel(id)
    const deadline = Date.now() + freezeTimeoutMs
    for (let i = 0; ; i++) {
      if (paused && i % 50 === 49) {
        driver.setFrozen(rel, false)
        await delay(10)
      }
      driver.setFrozen(rel, paused)
      if (driver.frozen(rel) === paused) return
      if (Date.now() > deadline) break
      await delay(1)
    }
    if (paused) driver.setFrozen(rel, false)
    throw new SyscallError(`${paused ? 'freeze' : 'thaw'} (cgroup freezer)`, 'ETIMEDOUT', `container ${id.slice(0, 12)}`)
  }

  /** Whether the container is frozen. */
  paused(id: string): boolean {
    const driver = this.driver
    return !!driver && driver.exists(this.rel(id)) && driver.frozen(this.rel(id)) === true
  }

  /** The container's processes, from the host. */
  top(id: string): ProcessInfo[] {
    return processTable(this.requireDriver('top').pids(this.rel(id)))
  }

  /**
   * Removes the cgroups a crash left: those for which `keep(id, ageMs)` is
   * false (age: since the cgroup was made, the directory's mtime); busy ones stay.
   */
  collect(keep: (id: string, ageMs: number) => boolean): void {
    const driver = this.driver
    if (!driver) return
    for (const id of driver.children(this.scope)) if (!keep(id, this.age(driver, id))) driver.remove(this.rel(id))
  }

  /** Milliseconds since the container's cgroup was made (0 when it is gone meanwhile). */
  private age(driver: CgroupDriver, id: string): number {
    const dir = path.dirname(driver.joinFiles(this.rel(id))[0]!)
    const made = fs.statSync(dir, { throwIfNoEntry: false })?.mtimeMs
    return made === undefined ? 0 : Date.now() - made
  }

  /** Removes the runtime's parent cgroup and what is left in it; call when none of its containers runs. */
  async removeScope(): Promise<void> {
    const driver = this.driver
    if (!driver) return
    for (const id of driver.children(this.scope)) await this.release(id)
    if (driver.remove(this.scope)) forgetScopeOwner(this.scope)
    this.ownerRecorded = false
  }

  /** Lets go of what the backend holds for later starts (v2's loaded device programs); running containers keep their rules. */
  close(): void {
    this.backend?.close()
  }

  /**
   * Removes the scopes of runtimes whose root directory is gone (their
   * process ended without close()), with the empty cgroups left in them;
   * a cgroup that still has processes stays, and so does its scope.
   */
  collectAbandoned(): void {
    const driver = this.driver
    if (!driver) return
    for (const { scope, dirs } of abandonedScopes()) {
      if (scope === this.scope) continue
      try {
        // A record written before directories were kept names the scope only: look under our own cgroups.
        if (removeScopeDirs(dirs.length ? dirs : this.scopeDirs(driver, scope))) forgetScopeOwner(scope)
      } catch (err) {
        // Someone else's leftovers must never fail this runtime's recovery.
        debug('collecting abandoned cgroup scope %s failed: %s', scope, err)
      }
    }
  }

  /** A scope's directory in each hierarchy, under this process's own cgroups. */
  private scopeDirs(driver: CgroupDriver, scope: string): string[] {
    return driver.joinFiles(scope).map((f) => path.dirname(f))
  }

  /** The backend for `action`; EUNSUPPORTED without cgroups. */
  protected requireDriver(action: string): CgroupDriver {
    const driver = this.driver
    if (!driver) throw new UnsupportedError('hierarchy', 'none', action)
    return driver
  }

  /** The container's cgroup, relative to where the driver nests this runtime's cgroups. */
  protected rel(id: string): string {
    return `${this.scope}/${id}`
  }
}

/** Removes a scope's directories with the empty cgroups left in them; false while one is busy. */
function removeScopeDirs(dirs: string[]): boolean {
  let removed = true
  for (const dir of dirs) {
    for (const id of childDirs(dir)) removeDir(path.join(dir, id))
    removed = removeDir(dir) && removed
  }
  return removed
}
