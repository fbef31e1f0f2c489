/**
 * Docker's prune filters (`--filter until=...`, `--filter label=...`), one
 * rule for containers, networks and volumes: which items a prune may remove.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import { logTimeNs, type LogTime } from './log-time'

/** The filters of `Container.prune`, `Network.prune` and `Volume.prune` (`docker ... prune --filter`). */
export interface PruneFilters {
  /** Only items created before this time: a Date, unix seconds, a duration before now ('10m', '2h') or RFC 3339 (`until=`). */
  until?: LogTime
  /** Only items with every one of these labels: "key" (any value) or "key=value" (`label=`). */
  label?: string[]
}

/** What a filter looks at: the item's creation time (ISO 8601) and labels. */
export interface Prunable {
  created: string
  labels: Record<string, string>
}

/** Whether an item passes the filters; EINVALID for a malformed one (checked before anything is removed). */
export function pruneFilter(opts: PruneFilters): (item: Prunable) => boolean {
  const until = opts.until === undefined ? undefined : logTimeNs(opts.until, 'until')
  if (opts.label !== undefined && (!Array.isArray(opts.label) || opts.label.some((l) => typeof l !== 'string' || l === '')))
    throw new InvalidArgumentError('prune: label is a list of "key" or "key=value" strings, e.g. ["app=web"]')
  const labels = (opts.label ?? []).map((l) => {
    const eq = l.indexOf('=')
    return eq < 0 ? { key: l } : { key: l.slice(0, eq), value: l.slice(eq + 1) }
  })
  return (item) => {
    if (until !== undefined && BigInt(Date.parse(item.created)) * 1_000_000n >= until) return false
    return labels.every(({ key, value }) => key in item.labels && (value === undefined || item.labels[key] === value))
  }
}
