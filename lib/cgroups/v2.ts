/**
 * The unified (v2) hierarchy: one directory per cgroup, controllers enabled
 * for children through cgroup.subtree_control on every ancestor.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { UnsupportedError } from '../errors'
import type { MountOp } from '../shim/spec'
import { MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY } from '../sys/libc'
import {
  childDirs, makeDir, makeFreshDir, readKeyed, readNumber, readOomKills, readPids, readValue, removeDir, withUndo, writeValue, type CgroupCounters, type CgroupDriver,
} from './driver'
import { DevicePrograms } from './device-attach'
import type { DevicePolicy } from './device-rules'
import { enableAtRoot } from './namespace-root'
import { needed } from './needs'
import type { Resources } from './resources'
import { sharesToWeight } from './units'

/** Controllers we enable for our cgroups when the host has them. */
const wanted = ['cpuset', 'cpu', 'io', 'memory', 'pids']

/** cgroup v2, rooted at `mountPoint` (normally /sys/fs/cgroup). */
export class V2Driver implements CgroupDriver {
  readonly layout = 'v2' as const
  private readonly devicePrograms = new DevicePrograms()
  /** Parents (relative paths) of cgroups this driver made: there, with our controllers enabled, as far as it knows. */
  private readonly readyParents = new Set<string>()

  constructor(
    private readonly mountPoint: string,
    private readonly controllers: Set<string>,
  ) {}

  check(res: Resources): void {
    for (const [controller, option] of needed(res))
      if (!this.controllers.has(controller)) throw new UnsupportedError(controller, this.layout, option)
    if (res.oomKillDisable) throw new UnsupportedError('memory.oom_control', this.layout, 'oomKillDisable (cgroup v1 only)')
    if (res.memorySwap !== undefined && !this.controllers.has('memory')) throw new UnsupportedError('memory', this.layout, 'memorySwap')
  }

  create(rel: string, res: Resources, devices: DevicePolicy): void {
    this.check(res)
    const parent = path.dirname(rel)
    // Once this driver made a cgroup in it, the parent is there with our controllers enabled: the cgroup
    // alone is made (two reads of cgroup.subtree_control and a lookup less). Should it fail (the scope removed
    // or made again elsewhere meanwhile, or any other failure), it is made again the whole way.
    if (this.readyParents.has(parent))
      try {
        return this.makeLeaf(rel, res, devices, [])
      } catch {
        this.readyParents.delete(parent)
      }
    this.makeLeaf(rel, res, devices, this.makeParents(rel))
    this.readyParents.add(parent)
  }

  /** The cgroup `rel` made under parents that are ready, with its limits and device program; `made` (the parents just made) and it removed on failure. */
  private makeLeaf(rel: string, res: Resources, devices: DevicePolicy, made: string[]): void {
    const dir = this.dir(rel)
    withUndo(
      () => {
        if (!makeFreshDir(dir)) fs.mkdirSync(dir) // a leftover still in use: EEXIST, as v2 cannot share it
        made.push(dir)
        this.apply(rel, res)
        // A privileged container gets no program: only its ancestors' (if any) apply.
        if (!devices.allowAll) this.devicePrograms.attach(dir, devices.rules)
      },
      () => made.reverse().forEach(removeDir),
    )
  }

  /** Enables our controllers from the root down to the parent of `rel`, creating missing directories. */
  private makeParents(rel: string): string[] {
    const made: string[] = []
    const enable = wanted.filter((c) => this.controllers.has(c)).map((c) => `+${c}`).join(' ')
    let dir = this.mountPoint
    for (const part of path.dirname(rel).split('/').filter(Boolean)) {
      this.enableControllers(dir, enable)
      dir = path.join(dir, part)
      // A lookup is cheaper than mkdir's EEXIST (which locks the parent) for the parents, that mostly exist.
      if (!fs.existsSync(dir) && makeDir(dir)) made.push(dir)
    }
    this.enableControllers(dir, enable)
    return made
  }

  private enableControllers(dir: string, enable: string): void {
    const current = readValue(path.join(dir, 'cgroup.subtree_control')) ?? ''
    const missing = enable.split(' ').filter((c) => c && !current.split(' ').includes(c.slice(1)))
    if (!missing.length) return
    // The root we see may be a cgroup namespace's, holding processes (lib/cgroups/namespace-root.ts).
    if (dir === this.mountPoint) enableAtRoot(dir, missing.join(' '))
    else writeValue(path.join(dir, 'cgroup.subtree_control'), missing.join(' '))
  }

  apply(rel: string, res: Resources): void {
    this.check(res)
    const f = (name: string) => path.join(this.dir(rel), name)
    if (res.memory !== undefined) {
      writeValue(f('memory.max'), res.memory)
      // v2 limits swap alone; Docker's memorySwap is memory plus swap, and defaults to twice memory.
      const swap = res.memorySwap === -1 ? 'max' : (res.memorySwap ?? res.memory * 2) - res.memory
      if (fs.existsSync(f('memory.swap.max'))) writeValue(f('memory.swap.max'), swap)
    }
    if (res.memoryReservation !== undefined) writeValue(f('memory.low'), res.memoryReservation)
    if (res.cpuQuota !== undefined || res.cpuPeriod !== undefined) {
      const quota = res.cpuQuota === undefined || res.cpuQuota === -1 ? 'max' : res.cpuQuota
      writeValue(f('cpu.max'), `${quota} ${res.cpuPeriod ?? 100_000}`)
    }
    if (res.cpuShares !== undefined) writeValue(f('cpu.weight'), sharesToWeight(res.cpuShares))
    if (res.cpusetCpus !== undefined) writeValue(f('cpuset.cpus'), res.cpusetCpus)
    if (res.pidsLimit !== undefined) writeValue(f('pids.max'), res.pidsLimit)
  }

  joinFiles(rel: string): string[] {
    return [path.join(this.dir(rel), 'cgroup.procs')]
  }

  cloneInto(rel: string): string {
    return this.dir(rel)
  }

  remove(rel: string): boolean {
    return removeDir(this.dir(rel))
  }

  dirs(rel: string): string[] {
    return [this.dir(rel)]
  }

  exists(rel: string): boolean {
    return fs.existsSync(this.dir(rel))
  }

  children(rel: string): string[] {
    return childDirs(this.dir(rel))
  }

  counters(rel: string): CgroupCounters {
    const f = (name: string) => path.join(this.dir(rel), name)
    const mem = readKeyed(f('memory.stat'))
    const max = readValue(f('memory.max'))
    let blkioRead = 0
    let blkioWrite = 0
    for (const line of (readValue(f('io.stat')) ?? '').split('\n')) {
      blkioRead += Number(/rbytes=(\d+)/.exec(line)?.[1] ?? 0)
      blkioWrite += Number(/wbytes=(\d+)/.exec(line)?.[1] ?? 0)
    }
    return {
      cpuNs: (readKeyed(f('cpu.stat')).get('usage_usec') ?? 0) * 1000,
      memoryUsage: Math.max(0, readNumber(f('memory.current')) - (mem.get('inactive_file') ?? 0)),
      memoryLimit: max && max !== 'max' ? Number(max) : undefined,
      pids: readNumber(f('pids.current')),
      blkioRead,
      blkioWrite,
      oomKills: readOomKills(this.oomCounterFile(rel)),
    }
  }

  oomCounterFile(rel: string): string {
    return path.join(this.dir(rel), 'memory.events')
  }

  setFrozen(rel: string, frozen: boolean): void {
    const file = path.join(this.dir(rel), 'cgroup.freeze')
    if (!fs.existsSync(file)) throw new UnsupportedError('freezer (cgroup.freeze)', this.layout, 'pause')
    writeValue(file, frozen ? 1 : 0)
  }

  frozen(rel: string): boolean | undefined {
    const want = readValue(path.join(this.dir(rel), 'cgroup.freeze')) === '1'
    const is = readKeyed(path.join(this.dir(rel), 'cgroup.events')).get('frozen') === 1
    return want === is ? is : undefined
  }

  pids(rel: string): number[] {
    return readPids(path.join(this.dir(rel), 'cgroup.procs'))
  }

  containerMounts(readOnly: boolean): MountOp[] {
    const flags = MS_NOSUID | MS_NOEXEC | MS_NODEV | (readOnly ? MS_RDONLY : 0)
    return [{ kind: 'mount', type: 'cgroup2', source: 'cgroup', target: '/sys/fs/cgroup', flags, data: '' }]
  }

  close(): void {
    this.devicePrograms.close()
  }

  private dir(rel: string): string {
    return path.join(this.mountPoint, rel)
  }
}
