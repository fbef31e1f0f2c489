/**
 * Which cgroup hierarchies the host has, read from the mount table and the
 * process's own membership:
 *
 *   v2      one unified cgroup2 hierarchy holding every controller
 *   v1      one cgroup (v1) hierarchy per controller or group of controllers
 *   hybrid  v1 controller hierarchies plus a cgroup2 mount that holds none
 *           (systemd's "hybrid" mode); handled exactly as v1
 *
 * Parsing takes the text of /proc/self/mountinfo and /proc/self/cgroup, so
 * every layout can be tested without the host having it.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

/** The host's cgroup layout. */
export type LayoutName = 'v1' | 'v2' | 'hybrid' | 'none'

/** One v1 hierarchy: its mount point, the controllers attached to it, and this process's cgroup in it. */
export interface V1Hierarchy {
  /** Controllers, sorted, e.g. ['cpu', 'cpuacct'] (a hierarchy may hold several). */
  controllers: string[]
  mountPoint: string
  /** This process's cgroup inside the hierarchy, e.g. '/' or '/user.slice'. */
  ownPath: string
}

/** What {@link detectLayout} found. */
export type Layout =
  | { name: 'v2'; mountPoint: string; controllers: Set<string>; ownPath: string }
  | { name: 'v1' | 'hybrid'; hierarchies: V1Hierarchy[] }
  | { name: 'none' }

/** Controllers of the kernel's v1 set; named hierarchies (name=systemd) are not controllers. */
const v1Controllers = new Set(['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'net_cls', 'net_prio', 'blkio', 'perf_event', 'hugetlb', 'pids', 'rdma', 'misc'])

interface MountEntry {
  root: string
  mountPoint: string
  fsType: string
  superOptions: string[]
}

/** The cgroup entries of a mountinfo text. */
function cgroupMounts(mountinfo: string): MountEntry[] {
  const out: MountEntry[] = []
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ')
    if (!left || !right) continue
    const fields = left.split(' ')
    const [fsType = '', , superOpts = ''] = right.split(' ')
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue
    out.push({ root: fields[3] ?? '/', mountPoint: unescape(fields[4] ?? ''), fsType, superOptions: superOpts.split(',') })
  }
  return out
}

/** mountinfo escapes spaces and a few other bytes as \ooo. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))
}

/** `/proc/self/cgroup` as controller (or '' for the unified hierarchy) to path. */
export function parseProcCgroup(text: string): Map<string, string> {
  const paths = new Map<string, string>()
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line)
    if (!m) continue
    if (m[1] === '') paths.set('', m[2]!)
    for (const c of m[1]!.split(',')) if (c) paths.set(c, m[2]!)
  }
  return paths
}

/**
 * The layout described by a mountinfo and a /proc/self/cgroup text.
 * `readControllers` returns the controllers of a cgroup2 mount (its cgroup.controllers).
 */
export function parseLayout(mountinfo: string, procCgroup: string, readControllers: (mountPoint: string) => string): Layout {
  const mounts = cgroupMounts(mountinfo)
  const own = parseProcCgroup(procCgroup)
  const hierarchies: V1Hierarchy[] = []
  const seen = new Set<string>()
  for (const m of mounts) {
    if (m.fsType !== 'cgroup' || m.root !== '/') continue
    const controllers = m.superOptions.filter((o) => v1Controllers.has(o)).sort()
    if (!controllers.length || seen.has(controllers.join(','))) continue
    seen.add(controllers.join(','))
    hierarchies.push({ controllers, mountPoint: m.mountPoint, ownPath: own.get(controllers[0]!) ?? '/' })
  }
  const unified = mounts.find((m) => m.fsType === 'cgroup2' && m.root === '/')
  if (hierarchies.length) return { name: unified ? 'hybrid' : 'v1', hierarchies }
  if (!unified) return { name: 'none' }
  const controllers = new Set(readControllers(unified.mountPoint).trim().split(/\s+/).filter(Boolean))
  return { name: 'v2', mountPoint: unified.mountPoint, controllers, ownPath: own.get('') ?? '/' }
}

/** The host's layout, from this process's view. */
export function detectLayout(): Layout {
  return parseLayout(fs.readFileSync('/proc/self/mountinfo', 'utf8'), fs.readFileSync('/proc/self/cgroup', 'utf8'), (mp) =>
    fs.readFileSync(path.join(mp, 'cgroup.controllers'), 'utf8'),
  )
}

/** The unified (v2) hierarchy's mount and this process's cgroup in it, on a v2 host and a hybrid one alike. */
export interface UnifiedHierarchy {
  mountPoint: string
  /** This process's cgroup, e.g. '/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope'. */
  ownPath: string
}

/** The unified hierarchy described by a mountinfo and a /proc/self/cgroup text; undefined when none is mounted whole. */
export function parseUnified(mountinfo: string, procCgroup: string): UnifiedHierarchy | undefined {
  const unified = cgroupMounts(mountinfo).find((m) => m.fsType === 'cgroup2' && m.root === '/')
  return unified && { mountPoint: unified.mountPoint, ownPath: parseProcCgroup(procCgroup).get('') ?? '/' }
}

/** This process's view of the unified hierarchy. */
export function detectUnified(): UnifiedHierarchy | undefined {
  return parseUnified(fs.readFileSync('/proc/self/mountinfo', 'utf8'), fs.readFileSync('/proc/self/cgroup', 'utf8'))
}
