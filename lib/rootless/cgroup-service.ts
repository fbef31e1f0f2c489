/**
 * The cgroups of a rootless runtime. With a delegated cgroup v2 directory
 * (cgroup-delegation.ts) they are the root path's, nested there instead of
 * at the hierarchy's root: the runtime's scope and a child per container,
 * with limits, pause (cgroup.freeze) and stats. When the delegated directory
 * holds processes (the caller's own cgroup) and controllers are to be
 * enabled, its processes first move into a child, as in a cgroup
 * namespace's root (cgroups/namespace-root.ts): cgroup v2 lets no cgroup
 * both hold processes and give controllers to children.
 *
 * Without delegation there is no cgroup: an explicit limit, pause and update
 * are EUNSUPPORTED naming the fix, never silently ignored; stats() sums what
 * /proc tells of the container's processes.
 *
 * Device rules need no cgroup here: the container's user namespace enforces
 * them (and loading a BPF device program is a privilege the user lacks). In
 * it mknod of a real device is EPERM, so the only device nodes a container
 * has are the standard ones bound from the host's /dev (shim/defaults.ts),
 * and a node of another device (1:11, /dev/kmsg) cannot be made.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { CgroupService, type CgroupSetup, type Resources } from '../cgroups'
import type { CgroupCounters, CgroupDriver } from '../cgroups/driver'
import type { DevicePolicy } from '../cgroups/device-rules'
import type { Layout } from '../cgroups/layout'
import { needed } from '../cgroups/needs'
import { pidNamespaceMembers, procCounters } from '../cgroups/proc-counters'
import { InvalidArgumentError } from '../errors'
import { findDelegation, type CgroupDelegation, type NoDelegation } from './cgroup-delegation'
import { RootlessUnsupportedError } from './errors'

/** The user namespace is the device rule (see the module's comment). */
const noDeviceProgram: DevicePolicy = { allowAll: true }

/** What was found once, on first use. */
interface Found {
  delegation: CgroupDelegation | NoDelegation
  controllers: Set<string>
}

/** {@link CgroupService} in a delegated directory, or without cgroups (see the module's comment). */
export class RootlessCgroupService extends CgroupService {
  private readonly found: () => Found

  /** @param scope - the runtime's cgroup name; @param find - where the delegation is (tests pass their own) */
  constructor(scope: string, find: () => CgroupDelegation | NoDelegation = () => findDelegation()) {
    let found: Found | undefined
    const lookup = () => (found ??= withControllers(find()))
    super(scope, () => layoutOf(lookup()))
    this.found = lookup
  }

  /**
   * A MINICONTAINER_CGROUP naming no usable directory: no cgroup of ours can exist, so reading
   * and cleaning up see none, and every create and start fails in {@link check}.
   */
  protected override get driver(): CgroupDriver | undefined {
    return this.misnamed() ? undefined : super.driver
  }

  /**
   * EINVALID when MINICONTAINER_CGROUP names no usable directory; EUNSUPPORTED naming the first
   * limit set and the fix without delegation, or when the delegated directory lacks its controller.
   */
  override check(res: Resources): void {
    const misnamed = this.misnamed()
    if (misnamed) throw new InvalidArgumentError(`${misnamed.problem}; ${misnamed.fix}, or unset it`)
    if (!this.driver) {
      const [first] = needed(res)
      if (first) throw this.unsupported(`set ${first[1]}`)
      return
    }
    const dir = this.delegatedDir()
    const has = this.found().controllers
    for (const [controller, option] of needed(res))
      if (!has.has(controller))
        throw new RootlessUnsupportedError(`set ${option}`, `the ${controller} controller is not delegated to ${dir} (its cgroup.controllers: ${[...has].join(' ') || 'none'}); enable it in the parent's cgroup.subtree_control (systemd: Delegate=yes gives cpu, memory and pids)`)
    super.check(res)
  }

  /** The container's cgroup when delegated (no device program: see the module's comment); undefined otherwise. */
  override prepare(id: string, res: Resources, opts: { readOnly: boolean; devices: DevicePolicy }): CgroupSetup | undefined {
    this.check(res)
    return this.driver ? super.prepare(id, res, { ...opts, devices: noDeviceProgram }) : undefined
  }

  /** Kills what may still run in the container's cgroup (cgroup.kill), then removes it. */
  override async release(id: string): Promise<void> {
    const dir = this.delegatedDir()
    if (dir) killCgroup(path.join(dir, this.rel(id)))
    await super.release(id)
  }

  /** Other users' runtimes are not ours to collect, and a rootless runtime records no scope owner. */
  override collectAbandoned(): void {}

  /** The cgroup's counters, with /proc's for what its controllers do not count (all of them without delegation). */
  protected override counters(id: string, pid: number | undefined): CgroupCounters {
    const driver = this.driver
    if (!driver) return procCounters(pid ? pidNamespaceMembers(pid) : [])
    const counted = driver.counters(this.rel(id))
    const has = this.found().controllers
    if (has.has('memory') && has.has('pids') && has.has('io')) return counted
    const proc = procCounters(driver.pids(this.rel(id)))
    return {
      ...counted,
      ...(has.has('memory') ? {} : { memoryUsage: proc.memoryUsage }),
      ...(has.has('pids') ? {} : { pids: proc.pids }),
      ...(has.has('io') ? {} : { blkioRead: proc.blkioRead, blkioWrite: proc.blkioWrite }),
    }
  }

  /** The driver when delegated; EUNSUPPORTED naming the fix otherwise (pause, unpause, update, top). */
  protected override requireDriver(action: string): CgroupDriver {
    const driver = this.driver
    if (!driver) throw this.unsupported(action)
    return driver
  }

  private misnamed(): NoDelegation | undefined {
    const { delegation } = this.found()
    return 'problem' in delegation && delegation.named ? delegation : undefined
  }

  private delegatedDir(): string | undefined {
    const { delegation } = this.found()
    return 'dir' in delegation ? delegation.dir : undefined
  }

  private unsupported(action: string): RootlessUnsupportedError {
    const { delegation } = this.found()
    const why = 'problem' in delegation ? `${delegation.problem}; ${delegation.fix}` : ''
    return new RootlessUnsupportedError(action, `it needs cgroup v2 delegated to your user (Delegate=yes), and ${why}`)
  }
}

/** The delegation with the controllers its directory offers. */
function withControllers(delegation: CgroupDelegation | NoDelegation): Found {
  const text = 'dir' in delegation ? fs.readFileSync(path.join(delegation.dir, 'cgroup.controllers'), 'utf8') : ''
  return { delegation, controllers: new Set(text.split(/\s+/).filter(Boolean)) }
}

/** The delegated directory as the v2 driver's root; none without delegation. */
function layoutOf({ delegation, controllers }: Found): Layout {
  return 'dir' in delegation ? { name: 'v2', mountPoint: delegation.dir, controllers, ownPath: '/' } : { name: 'none' }
}

/** Writes cgroup.kill (Linux 5.14+; nothing to do without it or once the cgroup is gone). */
function killCgroup(dir: string): void {
  try {
    fs.writeFileSync(path.join(dir, 'cgroup.kill'), '1')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}
