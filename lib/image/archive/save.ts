/**
 * `docker save`: images into one tar that is an OCI image layout
 * (oci-layout, index.json, blobs/sha256/...) and, in the 'docker' format,
 * also a docker-archive (manifest.json naming each image's config, tags and
 * layers), as Docker 25+ writes it. Blobs are written byte for byte as
 * stored, so ids and diffIDs survive a save and load anywhere; the docker
 * format uses uncompressed layers (what every docker load reads), the OCI
 * format the stored (possibly compressed) archives. Each blob is written
 * once, however many images share it, and streamed from disk.
 *
 * @module
 */
import * as fs from 'node:fs'
import { Readable, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import * as tar from 'tar-stream'
import { LayerArchiveMissingError } from '../../errors'
import { entryWritten } from '../../files/tar-writer'
import { toNodeReadable } from '../../files/tar-streams'
import { sha256Of } from '../blobs'
import { layerMediaTypes, type LayerBlob } from '../layers'
import { OCI_CONFIG, OCI_INDEX, OCI_MANIFEST } from '../media-types'
import { parseReference } from '../reference'
import type { ImageRecord, ImageStore } from '../store'

/** An image to save and the tags to write for it. */
export interface SaveItem {
  record: ImageRecord
  refs: string[]
}

/** Options of {@link saveArchive}. */
export interface SaveArchiveOptions {
  /** 'docker' (default): docker-archive and OCI layout in one; 'oci': an OCI image layout only. */
  format?: 'docker' | 'oci'
  signal?: AbortSignal
}

interface Descriptor {
  mediaType: string
  digest: string
  size: number
  annotations?: Record<string, string>
}

/** The OCI media type of a stored layer blob, by its compression. */
function ociLayerType(b: LayerBlob): string {
  if (/gzip/.test(b.mediaType)) return layerMediaTypes.gzip
  if (/zstd/.test(b.mediaType)) return layerMediaTypes.zstd
  return layerMediaTypes.tar
}

/** An image's manifest for the chosen layer blobs (OCI, deterministic: saving twice gives one digest). */
function manifestOf(store: ImageStore, record: ImageRecord, layers: LayerBlob[]): Buffer {
  const descriptor = (mediaType: string, digest: string): Descriptor => ({ mediaType, digest, size: store.blobs.size(digest) })
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: descriptor(OCI_CONFIG, record.id),
      layers: layers.map((l) => descriptor(ociLayerType(l), l.digest)),
    }),
  )
}

/** Writes the archive of `items` to `out`. */
export async function saveArchive(store: ImageStore, items: SaveItem[], out: Writable, opts: SaveArchiveOptions = {}): Promise<void> {
  const format = opts.format ?? 'docker'
  const blobs = new Set<string>()
  const index: Descriptor[] = []
  const dockerManifest: { Config: string; RepoTags: string[]; Layers: string[] }[] = []
  const extra = new Map<string, Buffer>()
  for (const { record, refs } of items) {
    const layers: LayerBlob[] = []
    for (const diffId of record.layers) layers.push(format === 'docker' ? await store.layers.uncompressedBlob(diffId) : pickBlob(store, diffId))
    const manifest = manifestOf(store, record, layers)
    const manifestDigest = sha256Of(manifest)
    extra.set(manifestDigest, manifest)
    for (const d of [record.id, ...layers.map((l) => l.digest)]) blobs.add(d)
    const entry = { mediaType: OCI_MANIFEST, digest: manifestDigest, size: manifest.length }
    if (!refs.length) index.push(entry)
    for (const ref of refs) {
      const r = parseReference(ref)
      index.push({ ...entry, annotations: { 'io.containerd.image.name': r.toString(), 'org.opencontainers.image.ref.name': r.tag ?? 'latest' } })
    }
    dockerManifest.push({ Config: blobPath(record.id), RepoTags: refs.map((r) => parseReference(r).familiar), Layers: layers.map((l) => blobPath(l.digest)) })
  }
  const pack = tar.pack()
  const writing = pipeline(toNodeReadable(pack), out, { signal: opts.signal })
  writing.catch(() => {})
  const mtime = new Date(0)
  const file = (name: string, bytes: Buffer) => entryWritten(pack, { name, size: bytes.length, mode: 0o644, mtime, type: 'file' }, Readable.from([bytes]))
  try {
    await entryWritten(pack, { name: 'blobs/', mode: 0o755, mtime, type: 'directory' })
    await entryWritten(pack, { name: 'blobs/sha256/', mode: 0o755, mtime, type: 'directory' })
    for (const digest of blobs) {
      opts.signal?.throwIfAborted()
      await entryWritten(pack, { name: blobPath(digest), size: store.blobs.size(digest), mode: 0o644, mtime, type: 'file' }, fs.createReadStream(store.blobs.path(digest)))
    }
    for (const [digest, bytes] of extra) if (!blobs.has(digest)) await file(blobPath(digest), bytes)
    await file('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })))
    await file('index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: index })))
    if (format === 'docker') await file('manifest.json', Buffer.from(JSON.stringify(dockerManifest)))
    pack.finalize()
  } catch (err) {
    pack.destroy(err as Error)
    await writing.catch(() => {})
    throw err
  }
  await writing
}

const blobPath = (digest: string) => `blobs/sha256/${digest.slice('sha256:'.length)}`

/** A stored blob of a layer, compressed ones first (smaller archives). */
function pickBlob(store: ImageStore, diffId: string): LayerBlob {
  const stored = store.layers.blobsOf(diffId)
  const best = stored.find((b) => b.digest !== diffId) ?? stored[0]
  if (!best) throw new LayerArchiveMissingError(diffId, 'export')
  return best
}
