/**
 * `docker commit`: a container's overlay upper dir becomes an OCI layer
 * (diff tar, content-addressed by its sha256), applied as a new overlay
 * lower dir on top of the container's image layers.
 *
 * @module
 */
import type { ContainerContext } from './context'
import { layerFromUpper } from '../files'
import { Image } from '../image/image'
import type { ImageConfig, ImageRecord } from '../image/store'
import { normaliseRef } from '../image/store'
import type { ContainerRecord } from './types'

/** Options of {@link Container.commit}. */
export interface CommitOptions {
  /** Tag for the new image, e.g. "mine:v2". */
  ref?: string
  /** Config overrides, like `docker commit --change`. */
  changes?: Pick<ImageConfig, 'cmd' | 'entrypoint' | 'env' | 'workdir' | 'user' | 'exposedPorts' | 'labels' | 'volumes' | 'stopSignal' | 'healthcheck'>
}

/** Commits `upperDir` as a new layer over `image`; returns the new image. */
export async function commitLayer(rt: ContainerContext, image: ImageRecord, upperDir: string, record: ContainerRecord, opts: CommitOptions): Promise<Image> {
  const refs = opts.ref ? [normaliseRef(opts.ref)] : []
  const diffId = await rt.images.layers.addTar(layerFromUpper(upperDir, rt.userIds?.insideIds(), rt.userIds?.sourceReads()))
  const config: ImageConfig = {
    ...image.config,
    cmd: record.config.cmd,
    entrypoint: record.config.entrypoint.length ? record.config.entrypoint : image.config.entrypoint,
    env: record.config.env,
    workdir: record.config.workdir,
    user: record.config.user || image.config.user,
    ...opts.changes,
  }
  const created = new Date().toISOString()
  const history = [...(rt.images.configDocument(image.id).history ?? []), { created, created_by: `${[...record.config.entrypoint, ...record.config.cmd].join(' ')}`, comment: 'minicontainer commit' }]
  const stored = rt.images.putImage([...image.layers, diffId], config, { hostBinds: image.hostBinds, refs, history, created })
  return Image.get(stored.id, { runtime: rt })
}
