/**
 * ulimits in a rootless runtime: the container's process sets them in its
 * user namespace, where raising a hard limit above the one it inherited
 * from the caller is EPERM (that needs CAP_SYS_RESOURCE in the initial user
 * namespace). So a ulimit whose hard limit is above the caller's own is
 * refused at create, naming that hard limit, instead of failing at start.
 *
 * @module
 */
import * as fs from 'node:fs'
import type { Rlimit } from '../cgroups/resources'
import { RootlessUnsupportedError } from './errors'

/** Hard limits by RLIMIT_* number; -1 is unlimited. /proc/<pid>/limits lists them in that order, after a header. */
export function parseHardLimits(procLimits: string): number[] {
  // Each line is the name padded to 26 columns, then soft, hard and units.
  return procLimits.split('\n').slice(1).filter(Boolean).map((line) => {
    const hard = line.slice(26).trim().split(/\s+/)[1]
    return hard === 'unlimited' ? -1 : Number(hard)
  })
}

/** EUNSUPPORTED for the first ulimit whose hard limit is above the caller's own, naming it. */
export function checkRootlessUlimits(rlimits: readonly Rlimit[], hardLimits = () => parseHardLimits(fs.readFileSync('/proc/self/limits', 'utf8'))): void {
  if (!rlimits.length) return
  const own = hardLimits()
  const rank = (n: number) => (n < 0 ? Infinity : n)
  for (const r of rlimits) {
    const mine = own[r.resource]
    if (mine === undefined || rank(r.hard) <= rank(mine)) continue
    throw new RootlessUnsupportedError(
      `set ulimits.${r.name} with hard limit ${r.hard < 0 ? 'unlimited' : r.hard}`,
      `your own hard limit is ${mine}, and a user namespace cannot raise it; ask for at most ${mine}, or raise yours (ulimit -H, /etc/security/limits.conf, systemd's Limit${r.name.toUpperCase()}=)`,
    )
  }
}
