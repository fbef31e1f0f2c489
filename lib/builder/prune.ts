/**
 * `Image.pruneBuildCache`: forgets cached steps last used before the
 * cutoff, removes the layers only they kept (never one an image uses), and
 * removes RUN cache mounts last used before it.
 *
 * @module
 */
import { contextOf, type ContainerContext } from '../container/context'
import { InvalidArgumentError } from '../errors'
import type { BuildCachePruneOptions, BuildCachePruneResult } from '../image/image'
import { parseGoDuration } from '../util/go-duration'
import { BuildCache } from './cache'
import { CacheMounts } from './run-mounts'

/** Prunes the build cache of `opts.runtime` (see Image.pruneBuildCache). */
export async function pruneBuildCache(opts: BuildCachePruneOptions = {}): Promise<BuildCachePruneResult> {
  const rt = contextOf({ runtime: opts.runtime as ContainerContext | undefined })
  const cutoff = Date.now() - untilMs(opts.until)
  const { dropped, kept } = new BuildCache(rt.root, (d) => rt.images.hasLayer(d)).forget(cutoff)
  const candidates = [...new Set(dropped)].filter((d) => !kept.has(d) && rt.images.hasLayer(d))
  rt.images.dropUnreferenced({ layers: candidates })
  return {
    entriesDeleted: dropped.length,
    layersDeleted: candidates.filter((d) => !rt.images.hasLayer(d)).length,
    cacheMountsDeleted: await new CacheMounts(rt.root).prune(cutoff),
  }
}

function untilMs(until: string | undefined): number {
  if (until === undefined) return -Infinity
  const ns = parseGoDuration(until)
  if (ns === undefined || ns < 0) throw new InvalidArgumentError(`invalid until ${JSON.stringify(until)}: use a duration such as "24h" or "90m"`)
  return ns / 1e6
}
