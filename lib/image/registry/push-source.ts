/**
 * What to push for a stored image: the manifest it was pulled with, byte
 * for byte, when the store still has every blob it names (so the pushed
 * image keeps its digest); otherwise a new OCI manifest over the layer
 * archives the store keeps for each layer.
 *
 * @module
 */
import * as fs from 'node:fs'
import { LayerArchiveMissingError } from '../../errors'
import type { ImageRecord, ImageStore } from '../store'
import { parseManifest } from './manifest'
import { DOCKER_CONFIG, OCI_CONFIG } from '../media-types'
import type { PushBlob, PushSource } from './push'

/** The blobs and manifest that make up `record` in a registry. */
export function pushSourceOf(store: ImageStore, record: ImageRecord): PushSource {
  return { ...(storedManifest(store, record) ?? freshManifest(store, record)), knownIn: knownRepositories(store, record) }
}

/**
 * Repositories the image's blobs are known to be in, as mount candidates:
 * its own repoDigests first, then those of stored images sharing a layer
 * with it (an image committed on top of a pulled one finds its base layers
 * in the base's repository, as Docker's per-layer source records do).
 */
function knownRepositories(store: ImageStore, record: ImageRecord): string[] {
  const sharing = store.list().filter((other) => other.id !== record.id && other.layers.some((l) => record.layers.includes(l)))
  const names = [record, ...sharing].flatMap((r) => r.repoDigests.map((d) => d.slice(0, d.indexOf('@'))))
  return [...new Set(names)]
}

function blob(store: ImageStore, digest: string, mediaType: string, size?: number): PushBlob {
  const path = store.blobPath(digest)
  return { digest, mediaType, size: size ?? fs.statSync(path).size, path }
}

/** The stored manifest of the image, when it describes this config and every blob it names is here. */
function storedManifest(store: ImageStore, record: ImageRecord): Omit<PushSource, 'knownIn'> | undefined {
  for (const ref of record.manifests) {
    if (!store.hasBlob(ref.digest)) continue
    const bytes = fs.readFileSync(store.blobPath(ref.digest))
    const parsed = parseManifest(record.id, bytes, ref.mediaType)
    if (parsed.kind !== 'manifest' || parsed.manifest.config.digest !== record.id) continue
    const { config, layers } = parsed.manifest
    if (![config, ...layers].every((d) => store.hasBlob(d.digest))) continue
    return {
      config: blob(store, config.digest, config.mediaType, config.size),
      layers: layers.map((l) => blob(store, l.digest, l.mediaType, l.size)),
      manifest: { bytes, mediaType: ref.mediaType },
    }
  }
  return undefined
}

/** A new manifest: the config and, per layer, an archive the store keeps for it. */
function freshManifest(store: ImageStore, record: ImageRecord): Omit<PushSource, 'knownIn'> {
  const layers = record.layers.map((diffId) => {
    const stored = store.layers.blobsOf(diffId)[0]
    if (!stored)
      throw new LayerArchiveMissingError(diffId, `push (image ${record.id.slice(7, 19)})`)
    return blob(store, stored.digest, stored.mediaType)
  })
  // Docker's media types stay among themselves: a Docker layer gets a Docker config (and so a Docker manifest).
  const dockerTypes = layers.some((l) => l.mediaType.startsWith('application/vnd.docker.'))
  return { config: blob(store, record.id, dockerTypes ? DOCKER_CONFIG : OCI_CONFIG), layers }
}
