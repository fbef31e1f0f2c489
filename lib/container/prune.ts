/**
 * `docker container prune`'s selection: which stopped containers a prune
 * removes, by its `until` and `label` filters.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import { logTimeNs, type LogTime } from './log-time'
import type { ContainerRecord } from './types'

/** Options of `Container.prune` (`docker container prune --filter`). */
export interface ContainerPruneOptions {
  /** Only containers created before this time: a Date, unix seconds, a duration before now ('10m', '2h') or RFC 3339 (`until=`). */
  until?: LogTime
  /** Only containers with every one of these labels: "key" (any value) or "key=value" (`label=`). */
  label?: string[]
}

/** Whether a container's record passes the filters; EINVALID for a malformed one (checked before anything is removed). */
export function pruneFilter(opts: ContainerPruneOptions): (record: ContainerRecord) => boolean {
  const until = opts.until === undefined ? undefined : logTimeNs(opts.until, 'until')
  if (opts.label !== undefined && (!Array.isArray(opts.label) || opts.label.some((l) => typeof l !== 'string' || l === '')))
    throw new InvalidArgumentError('prune: label is a list of "key" or "key=value" strings, e.g. ["app=web"]')
  const labels = (opts.label ?? []).map((l) => {
    const eq = l.indexOf('=')
    return eq < 0 ? { key: l } : { key: l.slice(0, eq), value: l.slice(eq + 1) }
  })
  return (record) => {
    if (until !== undefined && BigInt(Date.parse(record.created)) * 1_000_000n >= until) return false
    return labels.every(({ key, value }) => key in record.config.labels && (value === undefined || record.config.labels[key] === value))
  }
}
