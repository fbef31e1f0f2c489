/**
 * cgroup v1 (and the hybrid layout): one hierarchy per controller group,
 * and a container has a cgroup of the same relative path in each. Our
 * cgroups nest under this process's own cgroup in every hierarchy (v1 has
 * no rule against processes in inner nodes), so they stay inside whatever
 * limits the caller itself runs under.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { InvalidArgumentError, UnsupportedError } from '../errors'
import type { MountOp } from '../shim/spec'
import { MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY } from '../sys/libc'
import {
  childDirs, makeDir, makeFreshDir, readKeyed, readNumber, readOomKills, readPids, readValue, removeDir, withUndo, writeValue, writeValues, type CgroupCounters, type CgroupDriver,
} from './driver'
import { formatDeviceRule, requireDeviceControl, type DevicePolicy } from './device-rules'
import type { V1Hierarchy } from './layout'
import { makeAndWrite } from '../sys/cgroup-make'
import { needed } from './needs'
import type { Resources } from './resources'

/** Above this, memory.limit_in_bytes means "no limit" (the kernel reports PAGE_COUNTER_MAX pages). */
const unlimited = 2 ** 62

/** cgroup v1 over the given hierarchies. */
export class V1Driver implements CgroupDriver {
  private readonly byController = new Map<string, V1Hierarchy>()

  constructor(
    readonly layout: 'v1' | 'hybrid',
    private readonly hierarchies: V1Hierarchy[],
  ) {
    for (const h of hierarchies) for (const c of h.controllers) this.byController.set(c, h)
  }

  check(res: Resources): void {
    for (const [controller, option] of needed(res))
      if (!this.byController.has(controller)) throw new UnsupportedError(controller, this.layout, option)
    if (res.memorySwap !== undefined && !fs.existsSync(this.file('memory', '', 'memory.memsw.limit_in_bytes')))
      throw new UnsupportedError('memory swap accounting (memory.memsw.limit_in_bytes)', this.layout, 'memorySwap')
  }

  create(rel: string, res: Resources, devices: DevicePolicy): void {
    this.check(res)
    requireDeviceControl(devices, this.byController.has('devices'), this.layout)
    const made: string[] = []
    withUndo(
      () => {
        if (this.madeAtOnce(rel, devices, made)) return this.apply(rel, res)
        for (const h of this.hierarchies) this.makeDirs(h, rel, made)
        this.apply(rel, res)
        this.applyDevices(rel, devices)
      },
      () => made.reverse().forEach(removeDir),
    )
  }

  /**
   * The usual create in one native call: `rel` made in every hierarchy below scopes that exist (a
   * previous run's leftover replaced), with its device rules; a new cpuset cgroup then sees to its
   * CPUs as in {@link makeDirs}. False, with nothing made, when that fails (the first container of
   * a scope, a leftover still in use, a refused rule): the step-by-step way then handles it.
   */
  private madeAtOnce(rel: string, devices: DevicePolicy, made: string[]): boolean {
    const leaves = this.dirs(rel)
    if (makeAndWrite(leaves, this.deviceWrites(rel, devices))) return false
    made.push(...leaves)
    this.hierarchies.forEach((h, i) => {
      if (h.controllers.includes('cpuset')) this.inheritCpuset(leaves[i]!, true)
    })
    return true
  }

  /** The writes that put the device rules of {@link applyDevices} in force, as `[file, value]`. */
  private deviceWrites(rel: string, devices: DevicePolicy): Array<[string, string]> {
    if (devices.allowAll) return []
    const allow = this.file('devices', rel, 'devices.allow')
    return [[this.file('devices', rel, 'devices.deny'), 'a'], ...devices.rules.map((r): [string, string] => [allow, formatDeviceRule(r)])]
  }

  /**
   * mkdir -p of `rel` in one hierarchy, `rel` itself replacing a previous run's leftover (one still
   * in use is kept); new cpuset cgroups start empty and get their parent's CPUs and nodes.
   */
  private makeDirs(h: V1Hierarchy, rel: string, made: string[]): void {
    const parts = rel.split('/').filter(Boolean)
    const leaf = path.join(h.mountPoint, h.ownPath, ...parts)
    // The parents (the runtime's scope) exist after the first start: the leaf alone is made, and the
    // path walked only when its parent is missing (a lookup per level costs as much as the mkdir).
    try {
      return this.made(h, leaf, makeFreshDir(leaf), made, true)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    let dir = path.join(h.mountPoint, h.ownPath)
    for (const [i, part] of parts.entries()) {
      dir = path.join(dir, part)
      const isLeaf = i === parts.length - 1
      this.made(h, dir, isLeaf ? makeFreshDir(dir) : !fs.existsSync(dir) && makeDir(dir), made, isLeaf)
    }
  }

  /** Notes `dir` in `made` when it was `fresh`ly made, and sees that a new cpuset cgroup has its parent's CPUs and nodes. */
  private made(h: V1Hierarchy, dir: string, fresh: boolean, made: string[], leaf: boolean): void {
    if (!fresh) return
    made.push(dir)
    if (h.controllers.includes('cpuset')) this.inheritCpuset(dir, leaf)
  }

  /**
   * A new cpuset cgroup starts with no CPUs and no nodes unless its parent has cgroup.clone_children
   * set: then the kernel copies the parent's at mkdir. Our scope gets the flag at its first container
   * (it is ours; the caller's own cgroup, the scope's parent, is not), so later containers cost one
   * read here instead of two reads and two writes. Whether the copy happened is read, not remembered:
   * a scope made again meanwhile (by another process too) starts without the flag.
   */
  private inheritCpuset(dir: string, leaf: boolean): void {
    if (leaf && readValue(path.join(dir, 'cpuset.cpus'))) return
    const parent = path.dirname(dir)
    if (leaf) refillEmpty(parent)
    copyCpuset(parent, dir)
    if (leaf) writeValue(path.join(parent, 'cgroup.clone_children'), 1)
  }

  /**
   * Whitelist mode: everything denied, then each rule allowed. A privileged
   * container keeps what a new cgroup inherits from its parent (everything,
   * unless this process itself runs restricted).
   */
  private applyDevices(rel: string, devices: DevicePolicy): void {
    if (devices.allowAll) return
    writeValue(this.file('devices', rel, 'devices.deny'), 'a')
    writeValues(this.file('devices', rel, 'devices.allow'), devices.rules.map(formatDeviceRule))
  }

  apply(rel: string, res: Resources): void {
    this.check(res)
    if (this.byController.has('memory')) this.applyMemory(rel, res)
    const cpu = (name: string) => this.file('cpu', rel, name)
    if (res.cpuPeriod !== undefined) writeValue(cpu('cpu.cfs_period_us'), res.cpuPeriod)
    if (res.cpuQuota !== undefined) writeValue(cpu('cpu.cfs_quota_us'), res.cpuQuota)
    if (res.cpuShares !== undefined) writeValue(cpu('cpu.shares'), res.cpuShares)
    if (res.cpusetCpus !== undefined) writeValue(this.file('cpuset', rel, 'cpuset.cpus'), res.cpusetCpus)
    if (res.pidsLimit !== undefined) writeValue(this.file('pids', rel, 'pids.max'), res.pidsLimit)
  }

  private applyMemory(rel: string, res: Resources): void {
    const f = (name: string) => this.file('memory', rel, name)
    if (res.oomKillDisable) writeValue(f('memory.oom_control'), 1)
    if (res.memoryReservation !== undefined) writeValue(f('memory.soft_limit_in_bytes'), res.memoryReservation)
    if (res.memory === undefined) return
    const limit = () => writeValue(f('memory.limit_in_bytes'), res.memory!)
    if (!fs.existsSync(f('memory.memsw.limit_in_bytes'))) return limit()
    // Docker's default swap is as much again as memory. memsw may never be below the limit,
    // so which file goes first depends on whether the limits rise or fall.
    const memsw = () => writeValue(f('memory.memsw.limit_in_bytes'), res.memorySwap ?? res.memory! * 2)
    try {
      limit()
      memsw()
    } catch (err) {
      if (!(err instanceof InvalidArgumentError)) throw err
      memsw()
      limit()
    }
  }

  joinFiles(rel: string): string[] {
    return this.hierarchies.map((h) => path.join(h.mountPoint, h.ownPath, rel, 'tasks'))
  }

  cloneInto(): undefined {
    return undefined
  }

  remove(rel: string): boolean {
    let removed = true
    for (const dir of this.dirs(rel)) removed = removeDir(dir) && removed
    return removed
  }

  dirs(rel: string): string[] {
    return this.hierarchies.map((h) => path.join(h.mountPoint, h.ownPath, rel))
  }

  exists(rel: string): boolean {
    return this.hierarchies.some((h) => fs.existsSync(path.join(h.mountPoint, h.ownPath, rel)))
  }

  children(rel: string): string[] {
    return [...new Set(this.hierarchies.flatMap((h) => childDirs(path.join(h.mountPoint, h.ownPath, rel))))]
  }

  counters(rel: string): CgroupCounters {
    const mem = (name: string) => this.file('memory', rel, name)
    const limit = readNumber(mem('memory.limit_in_bytes'))
    let blkioRead = 0
    let blkioWrite = 0
    for (const line of (readValue(this.file('blkio', rel, 'blkio.throttle.io_service_bytes_recursive')) ?? '').split('\n')) {
      const [, op, bytes] = line.split(' ')
      if (op === 'Read') blkioRead += Number(bytes)
      if (op === 'Write') blkioWrite += Number(bytes)
    }
    return {
      cpuNs: readNumber(this.file('cpuacct', rel, 'cpuacct.usage')),
      memoryUsage: Math.max(0, readNumber(mem('memory.usage_in_bytes')) - (readKeyed(mem('memory.stat')).get('total_inactive_file') ?? 0)),
      memoryLimit: limit > 0 && limit < unlimited ? limit : undefined,
      pids: readNumber(this.file('pids', rel, 'pids.current')),
      blkioRead,
      blkioWrite,
      oomKills: readOomKills(this.oomCounterFile(rel)),
    }
  }

  oomCounterFile(rel: string): string | undefined {
    return this.byController.has('memory') ? this.file('memory', rel, 'memory.oom_control') : undefined
  }

  setFrozen(rel: string, frozen: boolean): void {
    if (!this.byController.has('freezer')) throw new UnsupportedError('freezer', this.layout, 'pause')
    writeValue(this.file('freezer', rel, 'freezer.state'), frozen ? 'FROZEN' : 'THAWED')
  }

  frozen(rel: string): boolean | undefined {
    const state = readValue(this.file('freezer', rel, 'freezer.state'))
    return state === 'FROZEN' ? true : state === 'THAWED' || state === undefined ? false : undefined
  }

  pids(rel: string): number[] {
    const h = this.byController.get('pids') ?? this.hierarchies[0]
    return h ? readPids(path.join(h.mountPoint, h.ownPath, rel, 'tasks')) : []
  }

  containerMounts(readOnly: boolean): MountOp[] {
    const base = MS_NOSUID | MS_NOEXEC | MS_NODEV
    const ops: MountOp[] = [{ kind: 'mount', type: 'tmpfs', source: 'tmpfs', target: '/sys/fs/cgroup', flags: base, data: 'mode=755' }]
    for (const h of this.hierarchies) {
      const name = h.controllers.join(',')
      ops.push({ kind: 'mount', type: 'cgroup', source: 'cgroup', target: `/sys/fs/cgroup/${name}`, flags: base | (readOnly ? MS_RDONLY : 0), data: name })
      // As on the host and in Docker: cpu -> cpu,cpuacct.
      if (h.controllers.length > 1) for (const c of h.controllers) ops.push({ kind: 'symlink', linkTarget: name, target: `/sys/fs/cgroup/${c}` })
    }
    if (readOnly) ops.push({ kind: 'readonly', target: '/sys/fs/cgroup' })
    return ops
  }

  close(): void {}

  /** A file of the cgroup `rel` in the hierarchy holding `controller` (a path that does not exist when there is none). */
  private file(controller: string, rel: string, name: string): string {
    const h = this.byController.get(controller)
    return h ? path.join(h.mountPoint, h.ownPath, rel, name) : path.join('/nonexistent', controller, name)
  }
}

/** A cpuset cgroup's two lists, CPUs first as ever. */
const cpusetFiles = ['cpuset.cpus', 'cpuset.mems']

/** Gives `dir` the CPUs and nodes of `from`. */
function copyCpuset(from: string, dir: string): void {
  for (const f of cpusetFiles) writeValue(path.join(dir, f), readValue(path.join(from, f)) ?? '')
}

/**
 * Refills the runtime's scope from the cgroup above it when it has no CPUs or no nodes: v1 gives a
 * cpuset no CPU back once a hot-unplug emptied it, and a scope another tool made may start empty; each
 * container would copy the empty list and fail to join (ENOSPC). Read only when a container's cpuset
 * did not come filled from the kernel, so not at a usual start.
 */
function refillEmpty(scope: string): void {
  if (cpusetFiles.some((f) => !readValue(path.join(scope, f)))) copyCpuset(path.dirname(scope), scope)
}
