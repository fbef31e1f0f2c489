/**
 * Reading manifests and indexes: validation of what a registry sent, and
 * the choice of one platform's manifest from an index (skipping
 * attestations, as Docker does).
 *
 * @module
 */
import { isSha256Digest } from '../reference'
import { PlatformNotFoundError, RegistryError, UnsupportedManifestError } from './errors'
import { checkLayerMediaType } from '../layers'
import { DOCKER_CONFIG, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, manifestKind } from '../media-types'
import { isSchema1 } from './media-types'
import { formatPlatform, platformMatches, type Platform } from '../platform'

/** A content descriptor: what a manifest says about a blob or another manifest. */
export interface Descriptor {
  mediaType: string
  digest: string
  size: number
  platform?: Platform
  annotations?: Record<string, string>
  urls?: string[]
}

/** An image manifest: one config and its layers, bottom-most first. */
export interface ImageManifest {
  schemaVersion: 2
  mediaType?: string
  config: Descriptor
  layers: Descriptor[]
}

/** An image index / manifest list. */
export interface ImageIndex {
  schemaVersion: 2
  mediaType?: string
  manifests: Descriptor[]
}

/** A parsed manifest document with its kind. */
export type ParsedManifest = { kind: 'index'; index: ImageIndex } | { kind: 'manifest'; manifest: ImageManifest }

/**
 * Parses a manifest document. The media type comes from the Content-Type
 * header or, for registries that send a generic one, from the document.
 */
export function parseManifest(ref: string, bytes: Buffer, contentType: string | null): ParsedManifest {
  let doc: { schemaVersion?: unknown; mediaType?: unknown; manifests?: unknown; config?: unknown; layers?: unknown }
  try {
    doc = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw new RegistryError(`${ref}: the registry sent a manifest that is not JSON`)
  }
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined
  const header = contentType?.split(';')[0].trim()
  const mediaType = header && header !== 'application/json' && header !== 'application/octet-stream' ? header : (declared ?? guessType(doc))
  if (isSchema1(mediaType) || doc.schemaVersion === 1)
    throw new UnsupportedManifestError(ref, mediaType, 'Docker image manifest schema 1 is deprecated and not supported; push the image again with a current client (schema 2 or OCI)')
  const kind = manifestKind(mediaType)
  if (!kind) throw new UnsupportedManifestError(ref, mediaType, 'expected an OCI or Docker schema 2 image manifest or index')
  if (doc.schemaVersion !== 2) throw new RegistryError(`${ref}: manifest schemaVersion ${String(doc.schemaVersion)} is not 2`)
  if (kind === 'index') {
    if (!Array.isArray(doc.manifests)) throw new RegistryError(`${ref}: the index has no "manifests" list`)
    return { kind, index: { schemaVersion: 2, mediaType, manifests: doc.manifests.map((d) => descriptor(ref, d)) } }
  }
  if (!Array.isArray(doc.layers)) throw new RegistryError(`${ref}: the manifest has no "layers" list`)
  const config = descriptor(ref, doc.config)
  if (config.mediaType !== OCI_CONFIG && config.mediaType !== DOCKER_CONFIG)
    throw new UnsupportedManifestError(ref, config.mediaType, 'this artifact is not a container image (its config is not an image config)')
  const layers = doc.layers.map((d) => descriptor(ref, d))
  for (const l of layers) checkLayer(ref, l)
  return { kind, manifest: { schemaVersion: 2, mediaType, config, layers } }
}

/** A layer we cannot unpack is refused before anything is downloaded. */
function checkLayer(ref: string, layer: Descriptor): void {
  try {
    checkLayerMediaType(layer.mediaType)
  } catch {
    throw new UnsupportedManifestError(ref, layer.mediaType, `layer ${layer.digest} is not a tar, tar+gzip or tar+zstd layer`)
  }
}

/** Docker's rule for documents without a media type: "manifests" means an index. */
function guessType(doc: { manifests?: unknown; config?: unknown }): string {
  if (doc.manifests) return OCI_INDEX
  if (doc.config) return OCI_MANIFEST
  return 'application/json'
}

function descriptor(ref: string, d: unknown): Descriptor {
  const v = d as Partial<Descriptor> | null
  if (!v || typeof v.mediaType !== 'string' || typeof v.digest !== 'string' || typeof v.size !== 'number')
    throw new RegistryError(`${ref}: the manifest has a malformed descriptor ${JSON.stringify(d)}`)
  if (!isSha256Digest(v.digest)) throw new UnsupportedManifestError(ref, v.mediaType, `digest "${v.digest}" is not sha256 (the only algorithm supported)`)
  if (!Number.isSafeInteger(v.size) || v.size < 0) throw new RegistryError(`${ref}: descriptor ${v.digest} has an invalid size ${v.size}`)
  return v as Descriptor
}

/** True for the attestation (provenance, SBOM) entries BuildKit adds to an index. */
function isAttestation(d: Descriptor): boolean {
  return d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' || (d.platform?.os === 'unknown' && d.platform?.architecture === 'unknown')
}

/** Picks the manifest for `wanted` from an index: exact variant first, then an entry without variant. */
export function selectPlatform(ref: string, index: ImageIndex, wanted: Platform): Descriptor {
  const candidates = index.manifests.filter((d) => !isAttestation(d) && manifestKind(d.mediaType) === 'manifest' && d.platform)
  const matches = candidates.filter((d) => platformMatches(wanted, d.platform as Platform))
  const best = matches.find((d) => (d.platform?.variant ?? '') === (wanted.variant ?? '')) ?? matches[0]
  if (!best) throw new PlatformNotFoundError(ref, formatPlatform(wanted), candidates.map((d) => formatPlatform(d.platform as Platform)))
  return best
}
