/**
 * The id maps of a rootless runtime, podman's layout: id 0 inside is the
 * user, and 1..N are the user's subordinate ranges, in order. Without a
 * range, or without the setuid newuidmap/newgidmap that alone may write
 * such a map, there are none: containers then map the user alone.
 *
 * @module
 */
import * as os from 'node:os'
import { findHelper } from './host-facts'
import { subordinateRanges, type SubidRange } from './subids'

/** One map line: `count` ids from `inside` in the namespace are `outside` on the host. */
export type MapLine = readonly [inside: number, outside: number, count: number]

/** What newuidmap and newgidmap write, and the ranges they come from (for messages). */
export interface IdMaps {
  uid: MapLine[]
  gid: MapLine[]
  /** The largest uid and gid inside that map to an id on the host. */
  maxUid: number
  maxGid: number
  uidHelper: string
  gidHelper: string
  /** The subordinate ranges, as `start-end` lists, and where they were read. */
  describe: string
}

/** 0 -> `self`, then each range from 1 on: the lines and the largest id inside. */
export function mapLines(self: number, ranges: readonly SubidRange[]): { lines: MapLine[]; max: number } {
  const lines: MapLine[] = [[0, self, 1]]
  let next = 1
  for (const r of ranges) {
    if (r.count <= 0) continue
    lines.push([next, r.start, r.count])
    next += r.count
  }
  return { lines, max: next - 1 }
}

/**
 * keep-id (podman's): inside the keeper's namespace (0 = the user, 1..max = the range), a nested map
 * where `self` (the user's own id) is the keeper's 0, the ids below it are the keeper's 1..self, and
 * those above it are themselves. EUNSUPPORTED-worthy (undefined) when the range does not reach past `self`.
 */
export function keepIdLines(self: number, max: number): MapLine[] | undefined {
  if (self < 1 || self >= max) return undefined
  return [
    [0, 1, self],
    [self, 0, 1],
    [self + 1, self + 1, max - self],
  ]
}

/** The id inside a namespace of `lines` for a host id; 65534 (nobody, the kernel's overflow id) when unmapped. */
export function insideId(lines: readonly MapLine[], host: number): number {
  for (const [inside, outside, count] of lines) if (host >= outside && host < outside + count) return inside + (host - outside)
  return 65534
}

const rangeText = (ranges: readonly SubidRange[]) => ranges.map((r) => `${r.start}-${r.start + r.count - 1}`).join(',')

/** The runtime's maps, or why there are none (no range, no helper): containers then map the caller alone. */
export function rootlessIdMaps(uid = process.geteuid?.() ?? 0, gid = process.getegid?.() ?? 0, user = userName()): IdMaps | { missing: string } {
  const subuids = subordinateRanges('uid', user, uid)
  const subgids = subordinateRanges('gid', user, uid)
  const uidHelper = findHelper('newuidmap')
  const gidHelper = findHelper('newgidmap')
  if (!subuids.ranges.length || !subgids.ranges.length) return { missing: `${user} has no subordinate ${subuids.ranges.length ? 'gid' : 'uid'} range (${subuids.ranges.length ? subgids.source : subuids.source})` }
  if (!uidHelper.privileged || !gidHelper.privileged || !uidHelper.path || !gidHelper.path) return { missing: 'newuidmap/newgidmap (the uidmap package) are missing or not setuid root' }
  const u = mapLines(uid, subuids.ranges)
  const g = mapLines(gid, subgids.ranges)
  return {
    uid: u.lines,
    gid: g.lines,
    maxUid: u.max,
    maxGid: g.max,
    uidHelper: uidHelper.path,
    gidHelper: gidHelper.path,
    describe: `subordinate uids ${rangeText(subuids.ranges)} and gids ${rangeText(subgids.ranges)} (${subuids.source})`,
  }
}

/** The caller's user name ('' for a uid without a passwd entry: its subordinate ranges are then found by uid). */
export function userName(): string {
  try {
    return os.userInfo().username
  } catch {
    return ''
  }
}
