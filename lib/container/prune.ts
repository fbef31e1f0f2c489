/**
 * `docker container prune`'s selection: which stopped containers a prune
 * removes, by its `until` and `label` filters (the one rule of
 * util/prune-filter, applied to a container's record).
 *
 * @module
 */
import { pruneFilter, type PruneFilters } from '../util/prune-filter'
import type { ContainerRecord } from './types'

/** Options of `Container.prune` (`docker container prune --filter`). */
export type ContainerPruneOptions = PruneFilters

/** Whether a container's record passes the filters; EINVALID for a malformed one (checked before anything is removed). */
export function containerPruneFilter(opts: ContainerPruneOptions): (record: ContainerRecord) => boolean {
  const passes = pruneFilter(opts)
  return (record) => passes({ created: record.created, labels: record.config.labels })
}
