/**
 * What `docker image inspect` and `docker history` show, from the stored
 * record and config document.
 *
 * @module
 */
import type { ImageConfig } from './oci-config'
import type { ImageRecord, ImageStore } from './store'

/** `docker image inspect`'s view of an image. */
export interface ImageInspect {
  /** "sha256:<hex>" of the config document. */
  id: string
  /** Tags, e.g. ["redis:7"]. */
  repoTags: string[]
  /** "name@sha256:<manifest digest>" of registries the image came from or went to. */
  repoDigests: string[]
  /** Creation time from the config document, ISO 8601; when the image was stored if it has none. */
  created: string
  /** CPU architecture in Go's names, e.g. "amd64", "arm64". */
  architecture: string
  /** Operating system, "linux". */
  os: string
  /** Architecture variant, e.g. "v8" for arm64, when the config names one. */
  variant?: string
  /** The defaults containers get (Docker's `Config`): cmd, entrypoint, env, workdir, user, ports, volumes, labels... */
  config: ImageConfig
  /** The layers (Docker's `RootFS`). */
  rootFS: {
    /** Always "layers". */
    type: 'layers'
    /** sha256 digests of the uncompressed layers, bottom-most first. */
    diffIds: string[]
  }
  /** Bytes of the image's files (all layers). */
  size: number
  /** Same as size (Docker keeps the field for compatibility). */
  virtualSize: number
}

/** One step of `docker history`, newest first. */
export interface ImageHistoryEntry {
  /** The image id for the top step, "<missing>" for steps below it (as Docker shows). */
  id: string
  /** When the step ran, ISO 8601, when the image recorded it. */
  created?: string
  /** The instruction or command that made the step; "" if unknown. */
  createdBy: string
  /** Bytes of the layer the step made (0 for a step that made none). */
  size: number
  /** The step's comment; "" for none. */
  comment: string
  /** The image's tags on the top step. */
  tags: string[]
}

/** The inspect view of a stored image. */
export function inspectImage(store: ImageStore, record: ImageRecord): ImageInspect {
  const size = record.layers.reduce((sum, l) => sum + store.layers.size(l), 0)
  return {
    id: record.id,
    repoTags: store.refsOf(record.id),
    repoDigests: record.repoDigests,
    created: record.created,
    architecture: record.architecture,
    os: record.os,
    ...(record.variant ? { variant: record.variant } : {}),
    config: record.config,
    rootFS: { type: 'layers', diffIds: record.layers },
    size,
    virtualSize: size,
  }
}

/** The history of a stored image, newest step first; steps that made layers are matched to them bottom-up. */
export function imageHistory(store: ImageStore, record: ImageRecord): ImageHistoryEntry[] {
  const steps = store.configDocument(record.id).history ?? []
  let layer = 0
  const entries = steps.map((h) => ({
    id: '<missing>',
    created: h.created,
    createdBy: h.created_by ?? '',
    size: h.empty_layer ? 0 : store.layers.size(record.layers[layer++] ?? record.layers[record.layers.length - 1]),
    comment: h.comment ?? '',
    tags: [] as string[],
  }))
  entries.reverse()
  if (entries.length) Object.assign(entries[0], { id: record.id, tags: store.refsOf(record.id) })
  return entries
}
