/**
 * Which starts mount the container's root `volatile` (RootfsSpec.volatile), and how a layer so
 * mounted becomes mountable again when its container outlives the start after all.
 *
 * @module
 */
import * as path from 'node:path'
import type { ContainerContext } from './context'
import { removeTreeAt } from '../files/tree'
import type { ContainerRecord } from './types'

/**
 * Whether this start is the layer's last mount: an rm: true container's (no restart policy,
 * restart() refused, removed at its exit) or the caller says so (a build's RUN container).
 */
export function isLastMount(record: ContainerRecord, saidLast: boolean | undefined): boolean {
  return record.hostConfig.autoRemove || !!saidLast
}

/**
 * After a failed start of a volatile root (its program missing, the start aborted), the container
 * stays, and its next start or file view mounts the layer again: the overlay refuses that (EINVAL)
 * while the mark the volatile mount left in its work dir is there. The host did not crash in between,
 * so the upper dir is whole and the mark can go (as Podman and CRI-O remove it).
 */
export function clearVolatileMark(rt: ContainerContext, workDir: string): void {
  const mark = path.join(workDir, 'work', 'incompat', 'volatile')
  // Rootless, overlay's work/work (mode 000) is the keeper's to enter.
  if (rt.userIds) rt.userIds.removeTree(mark)
  else removeTreeAt(mark)
}
