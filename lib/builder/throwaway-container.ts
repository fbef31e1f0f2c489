/**
 * The builder's throwaway container: a container of a stage's files (its
 * layers, config and host binds, under a throwaway image), for a RUN to run
 * in or a `COPY --from` to read; the container and its image are removed
 * whatever happens.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { Container } from '../container/container'
import type { ContainerContext } from '../container/context'
import type { RunOptions } from '../container/types'
import type { HostBind, ImageConfig } from '../image/store'
import { debug } from '../util/debug'
import type { PendingWork } from '../util/pending-work'
import { stamp } from '../util/start-trace'
import { ownerIsDead, processOwnedName } from '../util/process-owned-names'

/**
 * The label that marks a throwaway image and names its maker, `<pid>-<start>-<random>`: a build killed
 * (SIGKILL) before it removed the image leaves it, and the next runtime start on the root removes it
 * ({@link collectDeadThrowawayImages}). The random part keeps its id its own, even beside an identical build's.
 */
const ownerLabel = 'minicontainer.build.throwaway'

/** What a stage's container is made of. */
export interface StageImage {
  layers: string[]
  config: ImageConfig
  /** Host paths its containers bind read-only (a stage based on `Image.fromHost()`'s image keeps them). */
  hostBinds: HostBind[]
}

/**
 * Runs `use` with a created (not started) container of `image` running `cmd` (no entrypoint). With
 * `later`, the container and its image are removed there, in the background (the build waits for them
 * before it returns), so the next step does not wait for their files' deletion.
 */
export async function withThrowawayContainer<T>(rt: ContainerContext, image: StageImage, cmd: string[], options: Omit<RunOptions, 'entrypoint'>, use: (c: Container) => Promise<T>, later?: PendingWork): Promise<T> {
  const labels = { ...image.config.labels, [ownerLabel]: `${processOwnedName('')}-${randomBytes(8).toString('hex')}` }
  const temp = rt.images.putImage(image.layers, { ...image.config, labels }, { hostBinds: image.hostBinds })
  stamp('build: throwaway image put')
  let container: Container | undefined
  try {
    container = await Container.create(temp.id, cmd, { ...options, runtime: rt, entrypoint: [] })
    return await use(container)
  } finally {
    // Side by side: nothing reads the image once its container no longer starts (a removal does not), and
    // the record's and blob's unlinks then go on while the removal waits for the container's namespace to go.
    const removal = Promise.all([container?.remove({ force: true }).catch(() => {}), rt.images.forgetUnnamed(temp.id)])
    removal.then(() => stamp('build: throwaway removed'), () => {})
    if (later) later.track(removal.catch(() => {})) // nobody would see the error of a throwaway's removal: the build has moved on
    else await removal
  }
}

/**
 * Removes the throwaway images of build processes that no longer run (killed before their step's end);
 * returns how many. Their containers are gone by then: a dead owner's containers are collected first.
 */
export async function collectDeadThrowawayImages(images: ContainerContext['images']): Promise<number> {
  const dead = images.list().filter((r) => {
    const owner = r.config.labels?.[ownerLabel]
    // A tagged image, or one a container uses, is the user's (a label copied by hand, an image loaded): kept.
    return owner !== undefined && ownerIsDead(owner) && !images.refsOf(r.id).length && !images.users(r.id).length
  })
  for (const r of dead) {
    await images.forgetUnnamed(r.id).catch((err: Error) => debug('could not remove the dead build\'s throwaway image %s: %s', r.id, err.message))
  }
  return dead.length
}
