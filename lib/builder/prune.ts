/**
 * `Image.pruneBuildCache`: forgets cached steps last used before the
 * cutoff, removes the layers only they kept (never one an image uses), and
 * removes RUN cache mounts last used before it.
 *
 * @module
 */
import { contextOf, type ContainerContext } from '../container/context'
import type { BuildCachePruneOptions, BuildCachePruneResult } from '../image/image'
import { logTimeNs } from '../util/log-time'
import { BuildCache } from './cache'
import { cacheMountsOf } from './run-mounts'
import { SourceDigestMemo } from './source-digest-memo'

/** Prunes the build cache of `opts.runtime` (see Image.pruneBuildCache). */
export async function pruneBuildCache(opts: BuildCachePruneOptions = {}): Promise<BuildCachePruneResult> {
  const rt = contextOf({ runtime: opts.runtime as ContainerContext | undefined })
  // Docker's until filter, read as logs' and the other prunes' until is.
  const cutoff = opts.until === undefined ? Infinity : Number(logTimeNs(opts.until, 'until') / 1_000_000n)
  const { dropped, kept } = new BuildCache(rt.root, (d) => rt.images.hasLayer(d)).forget(cutoff)
  new SourceDigestMemo(rt.root).forget(cutoff)
  const candidates = [...new Set(dropped)].filter((d) => !kept.has(d) && rt.images.hasLayer(d))
  // Their blobs too (a build step's plain tar).
  rt.images.dropUnreferenced({ layers: candidates, withBlobs: true })
  return {
    entriesDeleted: dropped.length,
    layersDeleted: candidates.filter((d) => !rt.images.hasLayer(d)).length,
    cacheMountsDeleted: await cacheMountsOf(rt).prune(cutoff),
  }
}
