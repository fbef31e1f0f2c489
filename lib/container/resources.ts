/**
 * The container side of resource limits: `update()` on the record and the
 * cgroup, and the `stats({ stream: true })` iterator. The cgroup work itself
 * is lib/cgroups'.
 *
 * @module
 */
import { setTimeout as delay } from 'node:timers/promises'
import { mergeResources, type ContainerStats, type ResourceOptions } from '../cgroups'
import { ContainerNotFoundError, InvalidArgumentError } from '../errors'
import type { ContainerContext } from './context'

/** What `update()` can change (`docker update`): ulimits and shm size are fixed at create. */
export type ResourceUpdate = Pick<
  ResourceOptions,
  'memory' | 'memorySwap' | 'memoryReservation' | 'cpus' | 'cpuShares' | 'cpusetCpus' | 'cpuPeriod' | 'cpuQuota' | 'pidsLimit'
>

const updatable = new Set(['memory', 'memorySwap', 'memoryReservation', 'cpus', 'cpuShares', 'cpusetCpus', 'cpuPeriod', 'cpuQuota', 'pidsLimit'])

/** Merges new limits into the record and, when the container runs, applies them to its cgroup first. */
export function updateResources(rt: ContainerContext, id: string, running: boolean, update: ResourceUpdate): void {
  for (const key of Object.keys(update))
    if (!updatable.has(key)) throw new InvalidArgumentError(`update: "${key}" cannot be changed; updatable: ${[...updatable].join(', ')}`)
  const record = rt.containers.read(id)
  if (!record) throw new ContainerNotFoundError(id.slice(0, 12), 'it was removed')
  const merged = mergeResources(record.resources ?? { rlimits: [] }, update)
  rt.cgroups.check(merged)
  if (running) rt.cgroups.update(id, merged)
  rt.containers.writeRecord({ ...record, resources: merged })
}

/** Options of `stats({ stream: true })`. */
export interface StatsStreamOptions {
  /** `true`: an async iterator of samples (`docker stats`) instead of one sample (`--no-stream`). */
  stream: true
  /** Time between samples, ms (default 1000, as `docker stats`). */
  intervalMs?: number
  /** Ends the iteration. */
  signal?: AbortSignal
}

/** Samples every `intervalMs` until the container stops running or `signal` aborts. */
export async function* statsStream(sample: () => ContainerStats | undefined, opts: StatsStreamOptions): AsyncGenerator<ContainerStats> {
  const interval = opts.intervalMs ?? 1000
  if (!(interval > 0)) throw new InvalidArgumentError('stats: intervalMs must be a positive number of milliseconds')
  for (;;) {
    if (opts.signal?.aborted) return
    const s = sample()
    if (!s) return
    yield s
    try {
      await delay(interval, undefined, { signal: opts.signal })
    } catch {
      return // aborted
    }
  }
}
