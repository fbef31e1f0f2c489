/**
 * The caller's subordinate uid and gid ranges, which newuidmap/newgidmap
 * let it map into a user namespace. Read through libsubid (the uidmap
 * package's library, the one `getsubids` uses) when it is installed, so that
 * ranges from nsswitch's `subid:` source (LDAP, SSSD) count too; else from
 * /etc/subuid and /etc/subgid, where a line names the user or the uid.
 *
 * @module
 */
import * as fs from 'node:fs'
import koffi from '../sys/koffi'

/** One range of subordinate ids: `count` ids from `start`. */
export interface SubidRange {
  /** The first id. */
  start: number
  /** How many ids. */
  count: number
}

/** The ranges of one kind, and where they were read from. */
export interface SubidRanges {
  /** The ranges, in the order the source gives them. */
  ranges: SubidRange[]
  /** 'libsubid' (nsswitch-aware), or the file that was read. */
  source: 'libsubid' | '/etc/subuid' | '/etc/subgid'
}

type RangeReader = (owner: string) => SubidRange[] | undefined

let libsubid: { uid: RangeReader; gid: RangeReader } | null | undefined

/** libsubid's two readers, or null when the library is not installed (or has another ABI). */
function libsubidReaders(): { uid: RangeReader; gid: RangeReader } | null {
  if (libsubid !== undefined) return libsubid
  try {
    const lib = koffi.load('libsubid.so.4')
    const free = koffi.load('libc.so.6').func('void free(void *ptr)')
    const rangeType = koffi.struct('mc_subid_range', { start: 'unsigned long', count: 'unsigned long' })
    const reader = (name: string): RangeReader => {
      const fn = lib.func(`int ${name}(const char *owner, _Out_ mc_subid_range **ranges)`)
      return (owner) => {
        const out: unknown[] = [null]
        const n = fn(owner, out) as number
        if (n < 0) return undefined
        const ranges = n > 0 ? (koffi.decode(out[0], rangeType, n) as SubidRange[]) : []
        if (out[0]) free(out[0])
        return ranges.map((r) => ({ start: r.start, count: r.count }))
      }
    }
    libsubid = { uid: reader('subid_get_uid_ranges'), gid: reader('subid_get_gid_ranges') }
  } catch {
    libsubid = null
  }
  return libsubid
}

/** The ranges of `user` (or of its uid) in a subuid/subgid file's text: "name-or-uid:start:count" lines. */
export function parseSubidFile(text: string, user: string, uid: number): SubidRange[] {
  const ranges: SubidRange[] = []
  for (const line of text.split('\n')) {
    const [owner, start, count] = line.trim().split(':')
    if ((owner === user || owner === String(uid)) && /^\d+$/.test(start ?? '') && /^\d+$/.test(count ?? ''))
      ranges.push({ start: Number(start), count: Number(count) })
  }
  return ranges
}

/** The subordinate ranges of `kind` ('uid' or 'gid') for `user` (uid `uid`): libsubid's, else the file's. */
export function subordinateRanges(kind: 'uid' | 'gid', user: string, uid: number): SubidRanges {
  const fromLib = libsubidReaders()?.[kind](user)
  if (fromLib) return { ranges: fromLib, source: 'libsubid' }
  const source = kind === 'uid' ? '/etc/subuid' : '/etc/subgid'
  let text = ''
  try {
    text = fs.readFileSync(source, 'utf8')
  } catch {
    /* no file: no ranges */
  }
  return { ranges: parseSubidFile(text, user, uid), source }
}
