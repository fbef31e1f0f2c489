/**
 * Pulling an image: manifest (and the platform's manifest from an index),
 * config, then the layers the store lacks, several at once; each layer is
 * verified by the store on the way in and unpacked once. A layer already
 * unpacked is not downloaded, so pulling an image whose layers are all
 * present costs the manifest fetch only.
 *
 * @module
 */
import { Readable } from 'node:stream'
import { DigestMismatchError } from '../../errors'
import { mapLimit } from '../../sys/throttle'
import { coalescedProgress } from '../progress'
import { parseReference, type Reference } from '../reference'
import type { ImageRecord, ImageStore } from '../store'
import { blobChunks, fetchManifest, type FetchedManifest } from './blobs'
import { cancellable, RegistryClient, type RegistryConnectOptions } from './client'
import { PlatformNotFoundError, RegistryError } from './errors'
import { parseManifest, selectPlatform, type Descriptor, type ImageManifest } from './manifest'
import { formatPlatform, hostPlatform, parsePlatform, platformMatches, type Platform } from '../platform'

/** What a layer is doing, for {@link PullOptions.onProgress}. */
export type PullStatus = 'waiting' | 'downloading' | 'extracting' | 'done' | 'cached'

/** A progress event of a pull (or push): one layer's state and bytes. */
export interface PullProgress {
  /** Index of the layer in the image, bottom-most first. */
  layer: number
  /** The layer blob's digest. */
  digest: string
  /** Bytes transferred so far. */
  bytes: number
  /** The blob's size. */
  total: number
  /** 'cached' (the layer is stored already: nothing to do), or 'waiting', 'downloading' (repeated as bytes arrive), 'extracting', 'done'. */
  status: PullStatus
}

/** Options of a pull. */
export interface PullOptions extends RegistryConnectOptions {
  /** "os/arch[/variant]" to pick from a multi-platform image. Default: the host's. */
  platform?: string
  /** Called as layers wait, download, extract and finish. */
  onProgress?: (event: PullProgress) => void
  /** Layers downloaded at once. Default 3, as Docker. */
  concurrency?: number
}

/** What a pull resolved and stored. */
export interface PullResult {
  record: ImageRecord
  reference: Reference
  /** Digest of the manifest the reference names (the index's, for a multi-platform image), as in repoDigests. */
  digest: string
}

const MAX_CONFIG = 8 << 20

/** Pulls `input` ("redis:7", "127.0.0.1:5000/app@sha256:...") into `store`. Cancelled through `signal`: EABORTED. */
export async function pullImage(store: ImageStore, input: string, opts: PullOptions = {}): Promise<PullResult> {
  return cancellable(`the pull of ${input}`, opts.signal, () => pull(store, parseReference(input), opts))
}

async function pull(store: ImageStore, ref: Reference, opts: PullOptions): Promise<PullResult> {
  const wanted = opts.platform ? parsePlatform(opts.platform) : hostPlatform()
  // One signal for the whole pull: the caller's, or the first failing layer's (which stops the others).
  const failed = new AbortController()
  const signal = opts.signal ? AbortSignal.any([opts.signal, failed.signal]) : failed.signal
  const client = new RegistryClient(ref.registry, { ...opts, signal })
  const top = await fetchManifest(client, ref, ref.manifestRef, ref.digest)
  const { manifest, fetched } = await resolveImageManifest(client, ref, top, wanted)
  const added: Added = { blobs: [], layers: [] }
  try {
    const configBytes = await fetchConfig(store, client, ref, manifest.config, added)
    const config = parseConfig(ref, configBytes, manifest)
    if (opts.platform && !platformMatches(wanted, config.platform))
      throw new PlatformNotFoundError(ref.toString(), formatPlatform(wanted), [formatPlatform(config.platform)])
    await fetchLayers(store, client, ref, { layers: manifest.layers, diffIds: config.diffIds, added }, opts, failed)
    const record = store.putImageFromConfig(configBytes, {
      refs: ref.tag ? [ref.toString()] : [],
      repoDigests: [`${ref.name}@${top.digest}`],
      manifest: { bytes: fetched.bytes, mediaType: manifest.mediaType as string },
    })
    return { record, reference: ref, digest: top.digest }
  } catch (err) {
    // A failed or cancelled pull leaves nothing behind: what it stored and no image uses goes again.
    store.dropUnreferenced(added)
    throw err
  }
}

/** What a pull stored that was not there before it: removed again when it fails. */
interface Added {
  blobs: string[]
  layers: string[]
}

/** Follows an index to the wanted platform's manifest; a plain manifest is itself. */
async function resolveImageManifest(client: RegistryClient, ref: Reference, top: FetchedManifest, wanted: Platform) {
  const parsed = parseManifest(ref.toString(), top.bytes, top.contentType)
  if (parsed.kind === 'manifest') return { manifest: parsed.manifest, fetched: top }
  const desc = selectPlatform(ref.toString(), parsed.index, wanted)
  const fetched = await fetchManifest(client, ref, desc.digest, desc.digest)
  const inner = parseManifest(`${ref.name}@${desc.digest}`, fetched.bytes, fetched.contentType)
  if (inner.kind !== 'manifest') throw new RegistryError(`${ref}: the index entry for ${formatPlatform(wanted)} is itself an index; nested indexes are not supported`)
  return { manifest: inner.manifest, fetched }
}

/** The config blob: from the store when present, else downloaded and stored (verified). */
async function fetchConfig(store: ImageStore, client: RegistryClient, ref: Reference, desc: Descriptor, added: Added): Promise<Buffer> {
  if (desc.size > MAX_CONFIG) throw new RegistryError(`${ref}: the image config is ${desc.size} bytes, more than ${MAX_CONFIG}; refusing it`)
  if (!store.hasBlob(desc.digest)) {
    await store.ingestBlob(desc.digest, Readable.from(blobChunks(client, ref, desc)), { size: desc.size, signal: client.signal })
    added.blobs.push(desc.digest)
  }
  return store.blobs.read(desc.digest)
}

/** The parts of the image config a pull checks: diff IDs (one per layer) and platform. */
function parseConfig(ref: Reference, bytes: Buffer, manifest: ImageManifest): { diffIds: string[]; platform: Platform } {
  let config: { os?: string; architecture?: string; variant?: string; rootfs?: { diff_ids?: unknown } }
  try {
    config = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw new RegistryError(`${ref}: the image config is not JSON`)
  }
  const diffIds = config.rootfs?.diff_ids
  if (!Array.isArray(diffIds) || diffIds.length !== manifest.layers.length || diffIds.some((d) => typeof d !== 'string'))
    throw new RegistryError(`${ref}: the image config lists ${Array.isArray(diffIds) ? diffIds.length : 'no'} diff_ids for ${manifest.layers.length} layers`)
  const platform = { os: config.os ?? 'linux', architecture: config.architecture ?? '', ...(config.variant ? { variant: config.variant } : {}) }
  return { diffIds: diffIds as string[], platform }
}

/** Downloads and unpacks the layers the store lacks, `concurrency` at a time; the first failure cancels the others. */
async function fetchLayers(store: ImageStore, client: RegistryClient, ref: Reference, image: { layers: Descriptor[]; diffIds: string[]; added: Added }, opts: PullOptions, failed: AbortController): Promise<void> {
  const { layers, diffIds, added } = image
  const progress = (layer: number, bytes: number, status: PullStatus) => opts.onProgress?.({ layer, digest: layers[layer].digest, bytes, total: layers[layer].size, status })
  layers.forEach((_, i) => progress(i, 0, store.hasLayer(diffIds[i]) ? 'cached' : 'waiting'))
  await mapLimit(layers, opts.concurrency ?? 3, async (desc, i) => {
    if (store.hasLayer(diffIds[i])) return
    try {
      await fetchLayer(store, client, ref, { desc, diffId: diffIds[i], added }, (bytes, status) => progress(i, bytes, status))
    } catch (err) {
      failed.abort(err)
      throw err
    }
  })
}

/** Downloads a layer blob unless stored, then unpacks it and checks it against the config's diff ID; records what it added in `layer.added`. */
async function fetchLayer(store: ImageStore, client: RegistryClient, ref: Reference, layer: { desc: Descriptor; diffId: string; added: Added }, report: (bytes: number, status: PullStatus) => void) {
  const { desc, diffId, added } = layer
  const known = store.layers.unpacked(desc.digest)
  let unpacked: string
  if (store.hasBlob(desc.digest)) {
    report(desc.size, 'extracting')
    unpacked = await store.unpackLayer(desc.digest, desc.mediaType)
  } else {
    // Unpacked as it downloads (the blob is verified before the layer is committed): no write-then-read-back.
    const chunks = blobChunks(client, ref, desc, coalescedProgress(desc.size, (bytes) => {
      report(bytes, 'downloading')
      if (bytes === desc.size) report(bytes, 'extracting') // what remains is the unpacker's tail
    }))
    // Listed before the ingest: a blob that verifies but does not unpack is stored all the same, and is this pull's to remove.
    added.blobs.push(desc.digest)
    unpacked = await store.ingestLayer(desc.digest, desc.mediaType, chunks, { size: desc.size, signal: client.signal })
  }
  if (!known) added.layers.push(unpacked)
  if (unpacked !== diffId)
    throw new DigestMismatchError(`layer ${desc.digest} of ${ref}`, `it unpacks to ${unpacked}, but the image config says ${diffId}`)
  report(desc.size, 'done')
}
