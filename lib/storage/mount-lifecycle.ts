/**
 * What the container lifecycle calls, at each step, to give a container
 * its volumes, binds and tmpfs mounts:
 *
 *   create   createMounts(opts, volumes, layerDirs) -> ResolvedMount[], kept in the container record
 *   run spec toMountOps(mounts)                     -> MountOp[] for the shim (synchronous)
 *   inspect  mountRecords(mounts)                   -> Docker-style `mounts`
 *   remove   removeAnonymousVolumes(mounts, volumes) with `{ volumes: true }` or `rm: true`
 *
 * and {@link runtimeVolumeStore} gives a runtime its VolumeStore, with "in
 * use" read from the container records, so storage never imports the
 * container layer.
 *
 * @module
 */
import type { MountRunOptions, ResolvedMount } from './mount-types'
import { resolveMounts, volumeNames } from './mount-options'
import { seedVolumes } from './volume-seed'
import { VolumeStore } from './volumes'
import { debug } from '../util/debug'

/** The part of a container record storage needs: its id and its resolved mounts. */
export interface MountHolder {
  id: string
  mounts?: ResolvedMount[]
}

/** The VolumeStore of a runtime root; a volume is in use while any record's mounts name it. */
export function runtimeVolumeStore(root: string, records: () => Iterable<MountHolder | undefined>): VolumeStore {
  return new VolumeStore(root, (name) => {
    const users: string[] = []
    for (const r of records()) if (r && volumeNames(r.mounts ?? []).includes(name)) users.push(r.id)
    return users
  })
}

/**
 * At container create: validates the options, makes the sources exist
 * (volumes, `-v` host dirs) and, like Docker, copies the image's content
 * into empty volumes mounted over non-empty image directories.
 *
 * @param layerDirs - the image's layer directories, top-most first
 */
export async function createMounts(opts: MountRunOptions, volumes: VolumeStore, layerDirs: string[]): Promise<ResolvedMount[]> {
  const mounts = await resolveMounts(opts, volumes)
  debug('mounts: %j', mounts)
  try {
    await seedVolumes(mounts, layerDirs)
  } catch (err) {
    await removeAnonymousVolumes(mounts, volumes)
    throw err
  }
  return mounts
}

/**
 * Removes the anonymous volumes of a removed container (`remove({ volumes: true })`, `rm: true`).
 * Call it after the container's record is gone; a volume another container
 * still uses is kept, as Docker does.
 */
export async function removeAnonymousVolumes(mounts: ResolvedMount[], volumes: VolumeStore): Promise<void> {
  for (const name of volumeNames(mounts, true)) {
    await volumes.remove(name).catch((err: { code?: string }) => {
      if (err.code !== 'EINUSE' && err.code !== 'ENOVOLUME') throw err
    })
  }
}
