/**
 * Where a rootless runtime may make cgroups: a cgroup v2 directory delegated
 * to the caller. The kernel lets an ordinary user make cgroups in a directory
 * it may write, and move a process between two cgroups only when it may
 * write the cgroup.procs of their common ancestor; so the directory must
 * also hold the caller (its containers' first processes start in the
 * caller's cgroup and move themselves into theirs).
 *
 * Two sources, in order:
 * - `MINICONTAINER_CGROUP`: a cgroup path (`/mc-alice`, as /proc/self/cgroup
 *   writes it) or the same under the v2 mount (`/sys/fs/cgroup/mc-alice`).
 *   Set but unusable is an error, never ignored.
 * - systemd's delegation: the caller's own cgroup is inside its user manager
 *   (`user@<uid>.service`, which systemd delegates to the user) and writable.
 *   A transient scope asked of the user manager over D-Bus (podman's way)
 *   is not made: run under one (`systemd-run --user --scope -p Delegate=yes`).
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { detectUnified, type UnifiedHierarchy } from '../cgroups/layout'

/** The variable naming a delegated directory. */
export const cgroupVariable = 'MINICONTAINER_CGROUP'

/** What to do when there is no delegation. */
export const delegationFix =
  `run under a systemd scope with Delegate=yes (systemd-run --user --scope -p Delegate=yes node ...), or set ${cgroupVariable} to a cgroup v2 directory chown-ed to you that contains this process`

/** A delegated directory was found: its absolute path and where it came from. */
export interface CgroupDelegation {
  dir: string
  via: 'MINICONTAINER_CGROUP' | 'systemd'
}

/** No usable delegation: what was found, the fix, and whether the user asked for one (MINICONTAINER_CGROUP set). */
export interface NoDelegation {
  problem: string
  fix: string
  named: boolean
}

/** The delegated directory for this process, or why there is none (reads the environment and /proc/self). */
export function findDelegation(): CgroupDelegation | NoDelegation {
  return delegationFrom(process.env[cgroupVariable], detectUnified(), process.geteuid?.() ?? 0)
}

/** The delegated directory given MINICONTAINER_CGROUP's value, the unified hierarchy and the caller's uid. */
export function delegationFrom(named: string | undefined, unified: UnifiedHierarchy | undefined, uid: number): CgroupDelegation | NoDelegation {
  if (!unified) return { problem: 'this host has no cgroup v2 hierarchy mounted', fix: 'boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1) or a hybrid layout', named: !!named }
  const own = path.join(unified.mountPoint, unified.ownPath)
  if (named) return namedDelegation(named, unified, own, uid)
  if (!new RegExp(`/user@${uid}\\.service(/|$)`).test(unified.ownPath) || !mayWrite(own))
    return { problem: `this process's cgroup ${unified.ownPath} is not delegated to uid ${uid}`, fix: delegationFix, named: false }
  return { dir: own, via: 'systemd' }
}

/** MINICONTAINER_CGROUP checked: a cgroup v2 directory, writable, holding this process. */
function namedDelegation(named: string, unified: UnifiedHierarchy, own: string, uid: number): CgroupDelegation | NoDelegation {
  const mount = unified.mountPoint
  const dir = named === mount || named.startsWith(`${mount}/`) ? path.resolve(named) : path.join(mount, path.resolve('/', named))
  const at = `${cgroupVariable}=${named}`
  if (!fs.existsSync(path.join(dir, 'cgroup.procs')))
    return { problem: `${at}: ${dir} is not a cgroup v2 directory`, fix: `as root: mkdir ${dir} && chown -R ${uid} ${dir}`, named: true }
  if (!mayWrite(dir))
    return { problem: `${at}: ${dir} is not writable by uid ${uid}`, fix: `as root: chown -R ${uid} ${dir}`, named: true }
  if (own !== dir && !own.startsWith(`${dir}/`))
    return {
      problem: `${at}: this process's cgroup ${unified.ownPath} is not inside ${dir} (a process may only be moved by one who may write their common ancestor)`,
      fix: `start node from a shell moved into it first (as root: mkdir ${dir}/owner; chown ${uid} ${dir}/owner/cgroup.procs; echo $$ > ${dir}/owner/cgroup.procs)`,
      named: true,
    }
  return { dir, via: 'MINICONTAINER_CGROUP' }
}

/** Whether the caller may make cgroups in `dir` and move processes through it. */
function mayWrite(dir: string): boolean {
  try {
    for (const f of [dir, path.join(dir, 'cgroup.procs'), path.join(dir, 'cgroup.subtree_control')]) fs.accessSync(f, fs.constants.W_OK)
    return true
  } catch {
    return false
  }
}
