/**
 * Which controller each resource option needs, for the EUNSUPPORTED checks
 * of both backends.
 *
 * @module
 */
import type { Resources } from './resources'

/** [controller, option] for every option set in `res`. */
export function needed(res: Resources): [controller: string, option: string][] {
  const out: [string, string][] = []
  if (res.memory !== undefined) out.push(['memory', 'memory'])
  if (res.memoryReservation !== undefined) out.push(['memory', 'memoryReservation'])
  if (res.oomKillDisable) out.push(['memory', 'oomKillDisable'])
  if (res.cpuQuota !== undefined || res.cpuPeriod !== undefined) out.push(['cpu', 'cpus/cpuQuota'])
  if (res.cpuShares !== undefined) out.push(['cpu', 'cpuShares'])
  if (res.cpusetCpus !== undefined) out.push(['cpuset', 'cpusetCpus'])
  if (res.pidsLimit !== undefined) out.push(['pids', 'pidsLimit'])
  return out
}
