/**
 * The content-addressed image store of one runtime root, in the spirit of
 * containerd's: blobs by digest (verified on the way in), layers unpacked
 * once by diffID and shared, images named by the digest of their config
 * document (as Docker does, so an image keeps its id through pull, save and
 * load), and refs ("name:tag") one file each, so a lookup reads one file
 * and a retag is one atomic rename.
 *
 * Layout under the runtime root:
 *   blobs/sha256/<hex>        configs, manifests, layer archives
 *   layers/...                unpacked layers (see ./layers)
 *   images/sha256-<hex>.json  ImageRecord
 *   refs/<encoded ref>        the image id a ref points to
 *   locks/                    flock files, one per digest being unpacked
 *
 * @module
 */
import type { TreeOwnership } from '../files/owner-ledger'
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { Readable } from 'node:stream'
import { AmbiguousReferenceError, ImageNotFoundError, InvalidArgumentError, NotFoundError } from '../errors'
import { readJson, writeJson } from '../util/json-file'
import { BlobStore, checkDigest, type IngestOptions } from './blobs'
import { LayerStore } from './layers'
import { KeyedLock } from '../util/keyed-lock'
import { parseReference } from './reference'
import { imageConfigOf, newOciConfig, parseOciConfig, type HistoryEntry, type ImageConfig, type OciImageConfig } from './oci-config'

export type { ImageConfig, Healthcheck, HistoryEntry } from './oci-config'

/** A host path bound read-only into every container of the image (used by Image.fromHost()). */
export interface HostBind {
  /** Absolute host path, e.g. "/usr". */
  source: string
  /** Absolute path inside the container. */
  target: string
}

/** A manifest stored for an image (kept byte for byte: its digest is what `name@sha256:` names). */
export interface ManifestRef {
  /** "sha256:<hex>" of the manifest's bytes. */
  digest: string
  /** Its media type, e.g. "application/vnd.oci.image.manifest.v1+json". */
  mediaType: string
}

/** An image as stored on disk. */
export interface ImageRecord {
  /** "sha256:<hex>" of the config document. */
  id: string
  /** Layer diffIDs, bottom-most first. */
  layers: string[]
  /** Container defaults from the config document. */
  config: ImageConfig
  /** Host paths bound read-only into its containers (images from `Image.fromHost()`); [] otherwise. */
  hostBinds: HostBind[]
  /** The config's creation time, or when the image was stored when it has none. */
  created: string
  /** CPU architecture in Go's names, e.g. "amd64". */
  architecture: string
  /** Operating system, "linux". */
  os: string
  /** Architecture variant, e.g. "v8", when the config names one. */
  variant?: string
  /** "name@sha256:<manifest digest>" of registries the image came from or went to. */
  repoDigests: string[]
  /** Manifests stored for the image. */
  manifests: ManifestRef[]
}

/** Options of {@link ImageStore.putImageFromConfig}. */
export interface PutImageOptions {
  /** Refs to point at the image ("name:tag"). */
  refs?: string[]
  /** "name@sha256:..." of the manifest in a registry. */
  repoDigests?: string[]
  /** The manifest bytes, stored as a blob. */
  manifest?: { bytes: Buffer; mediaType: string }
  /** Host paths bound into containers (the host image). */
  hostBinds?: HostBind[]
}

/**
 * The stored form of a reference: Docker's familiar form ("bb:latest",
 * "127.0.0.1:5000/team/app:1.2"; "docker.io/library/redis" is "redis:latest").
 * Malformed input throws EINVALID ("invalid reference format").
 */
export function normaliseRef(ref: string): string {
  return parseReference(ref).familiar
}

/** Storage of blobs, layers, images and refs under one runtime root. */
export class ImageStore {
  /** The blobs (configs, manifests, layer archives). */
  readonly blobs: BlobStore
  /** The unpacked layers. */
  readonly layers: LayerStore
  private readonly imagesDir: string
  private readonly refsDir: string

  /**
   * @param root - the runtime root
   * @param usersOf - ids of the containers using an image (the container layer knows; the store does not import it)
   */
  constructor(
    root: string,
    private readonly usersOf: (imageId: string) => string[] = () => [],
    ownership?: TreeOwnership,
  ) {
    this.imagesDir = path.join(root, 'images')
    this.refsDir = path.join(root, 'refs')
    for (const d of [this.imagesDir, this.refsDir]) fs.mkdirSync(d, { recursive: true })
    this.blobs = new BlobStore(root)
    this.layers = new LayerStore(root, this.blobs, new KeyedLock(path.join(root, 'locks')), ownership)
  }

  /** Whether a blob is stored. */
  hasBlob(digest: string): boolean {
    return this.blobs.has(digest)
  }

  /** Where a blob is (or would be) stored. */
  blobPath(digest: string): string {
    return this.blobs.path(digest)
  }

  /**
   * Streams `src` into the blob of `digest`; verifies size (if given) and
   * digest; atomic (temp file + rename). A mismatch throws EDIGEST and stores
   * nothing; two writers of one digest (any processes) end with one blob and
   * neither fails.
   */
  ingestBlob(digest: string, src: NodeJS.ReadableStream, opts?: IngestOptions): Promise<void> {
    return this.blobs.ingest(digest, src, opts)
  }

  /**
   * Unpacks a stored layer blob (gzip, zstd or plain tar: the media type is
   * checked, the compression sniffed) once per diffID, confined and
   * streaming, OCI whiteouts becoming overlayfs whiteouts; returns its diffID
   * (sha256 of the uncompressed tar). Concurrent callers (any process) for
   * one blob wait for one unpack.
   */
  unpackLayer(blobDigest: string, mediaType?: string): Promise<string> {
    return this.layers.unpack(blobDigest, mediaType)
  }

  /**
   * Ingests a layer blob and unpacks it in one pass over `src` (a download):
   * the blob is verified as {@link ingestBlob} does and the layer committed
   * only after that; returns the diffID. A blob failing its digest (EDIGEST)
   * stores nothing; a blob that verifies but does not unpack is kept, as
   * {@link unpackLayer} would leave it. `src` may be any async iterable of
   * buffers (a download's chunks), which saves a stream's turn per chunk.
   */
  ingestLayer(digest: string, mediaType: string, src: Readable | AsyncIterable<Buffer>, opts: IngestOptions = {}): Promise<string> {
    return this.layers.ingest(digest, mediaType, src, opts)
  }

  /** Whether a layer (by diffID) is unpacked. */
  hasLayer(diffId: string): boolean {
    return this.layers.has(diffId)
  }

  /** Directory holding a layer's files. */
  layerPath(diffId: string): string {
    return this.layers.path(diffId)
  }

  /** An image's layer directories, top-most first (as overlayfs wants them). */
  layerDirs(image: ImageRecord): string[] {
    return [...image.layers].reverse().map((l) => this.layers.path(l))
  }

  /** {@link layerDirs} by the short names a container's overlay mount uses (LayerStore.mountPath). */
  mountLayerDirs(image: ImageRecord): string[] {
    return [...image.layers].reverse().map((l) => this.layers.mountPath(l))
  }

  /**
   * Stores an image from its config document's bytes (id = their sha256, as
   * Docker) whose rootfs.diff_ids must all be unpacked; records refs and
   * repoDigests; keeps the manifest bytes. Storing an image again merges its
   * refs, repoDigests and manifests.
   */
  putImageFromConfig(configBytes: Buffer, opts: PutImageOptions = {}): ImageRecord {
    const doc = parseOciConfig(configBytes)
    const refs = (opts.refs ?? []).map(normaliseRef)
    const missing = doc.rootfs.diff_ids.find((d) => !this.layers.has(checkDigest(d)))
    if (missing) throw new NotFoundError(`layer ${missing} of the image is not unpacked: unpack its blob first`)
    const id = this.blobs.put(configBytes)
    const manifests: ManifestRef[] = opts.manifest ? [{ digest: this.blobs.put(opts.manifest.bytes), mediaType: opts.manifest.mediaType }] : []
    const existing = this.readImage(id)
    const record: ImageRecord = {
      id,
      layers: doc.rootfs.diff_ids,
      config: imageConfigOf(doc),
      hostBinds: opts.hostBinds ?? existing?.hostBinds ?? [],
      created: existing?.created ?? doc.created ?? new Date().toISOString(),
      architecture: doc.architecture,
      os: doc.os,
      ...(doc.variant ? { variant: doc.variant } : {}),
      repoDigests: union(existing?.repoDigests, opts.repoDigests?.map(normaliseRef)),
      manifests: [...(existing?.manifests ?? []), ...manifests.filter((m) => !existing?.manifests.some((e) => e.digest === m.digest))],
    }
    // A second pull of a present image stores the same record: writing nothing keeps it a manifest fetch.
    if (!existing || JSON.stringify(existing) !== JSON.stringify(record)) writeJson(this.imageFile(id), record)
    for (const ref of refs) this.tag(ref, id)
    return record
  }

  /** Stores an image made here (import, host, commit) from its layers and defaults. */
  putImage(layers: string[], config: ImageConfig, opts: { hostBinds?: HostBind[]; refs?: string[]; history?: HistoryEntry[]; created?: string } = {}): ImageRecord {
    const doc = newOciConfig(config, layers, opts.history ?? [], opts.created)
    return this.putImageFromConfig(Buffer.from(JSON.stringify(doc)), { refs: opts.refs, hostBinds: opts.hostBinds })
  }

  /** The config document of an image, parsed from its stored bytes. */
  configDocument(id: string): OciImageConfig {
    return parseOciConfig(this.blobs.read(id))
  }

  /** Points a ref at an image (moving it if it pointed elsewhere, like `docker tag`). */
  tag(ref: string, id: string): void {
    const parsed = parseReference(ref)
    if (parsed.digest) throw new InvalidArgumentError(`cannot tag with "${ref}": a tag names no digest (use name:tag)`)
    const file = path.join(this.refsDir, encodeURIComponent(parsed.familiar))
    if (readRef(file) === id) return
    const tmp = `${file}.${process.pid}.tmp`
    fs.writeFileSync(tmp, id)
    fs.renameSync(tmp, file)
  }

  /** Removes a ref (the image stays); false when no such ref existed. */
  untag(ref: string): boolean {
    const file = path.join(this.refsDir, encodeURIComponent(normaliseRef(ref)))
    if (!fs.existsSync(file)) return false
    fs.rmSync(file, { force: true })
    return true
  }

  /** Resolves a ref, a full id ("sha256:..."), or a unique id prefix. */
  resolve(ref: string): ImageRecord {
    const byId = this.findById(ref)
    if (byId) return byId
    const parsed = parseReference(ref)
    if (parsed.digest && !parsed.tag) {
      const pinned = this.list().find((r) => r.repoDigests.some((d) => normaliseRef(d) === parsed.familiar))
      if (pinned) return pinned
      throw new ImageNotFoundError(ref)
    }
    const id = readRef(path.join(this.refsDir, encodeURIComponent(parsed.familiar)))
    const record = id && this.readImage(id)
    if (!record) throw new ImageNotFoundError(ref)
    return record
  }

  /** Ids of the containers created from an image. */
  users(id: string): string[] {
    return this.usersOf(id)
  }

  /** Every stored image. */
  list(): ImageRecord[] {
    return fs
      .readdirSync(this.imagesDir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => this.readRecordFile(path.join(this.imagesDir, f)))
      .filter((r): r is ImageRecord => !!r)
  }

  /** The refs pointing at an image. */
  refsOf(id: string): string[] {
    return fs
      .readdirSync(this.refsDir)
      .filter((f) => !f.endsWith('.tmp'))
      .filter((f) => fs.readFileSync(path.join(this.refsDir, f), 'utf8') === id)
      .map(decodeURIComponent)
  }

  /** Deletes an image, its refs, and every layer and blob no other image uses. */
  remove(id: string): void {
    for (const ref of this.refsOf(id)) fs.rmSync(path.join(this.refsDir, encodeURIComponent(ref)), { force: true })
    const record = this.readImage(id)
    fs.rmSync(this.imageFile(id), { force: true })
    if (!record) return
    this.dropUnreferenced({ layers: record.layers, blobs: [record.id, ...record.manifests.map((m) => m.digest)], withBlobs: true })
  }

  /**
   * Deletes the record and config blob, but none of the layers, of an image no ref names (a build's
   * throwaway image, whose id nobody else knows and whose layers the build cache keeps): no read of
   * every ref, and its two files removed on the threadpool (an unlink costs milliseconds on a
   * filesystem mounted with discard).
   */
  async forgetUnnamed(id: string): Promise<void> {
    await fs.promises.rm(this.imageFile(id), { force: true })
    // The config blob is named by the image id, so only a record of the same id (another process's
    // identical throwaway image, written meanwhile) can still need it: no walk of every image's layers.
    if (!this.readImage(id)) await fs.promises.rm(this.blobs.path(id), { force: true })
  }

  /**
   * Removes, of the given layers and blobs, those no stored image
   * references: what a removed image, or a failed pull or load, added and
   * nothing needs any more. A layer's blobs go only when given too, or
   * with `withBlobs` (a removed image's, a pruned build step's): one stored
   * before a pull unpacked it is not the pull's to remove.
   */
  dropUnreferenced(candidates: { layers?: string[]; blobs?: string[]; withBlobs?: boolean }): void {
    const layers = candidates.layers ?? []
    // Listed before the layers go: a layer's record of its blobs goes with it.
    const layerBlobs = candidates.withBlobs ? layers.flatMap((l) => this.blobDigestsOf(l)) : []
    const images = this.list()
    const layersUsed = new Set(images.flatMap((r) => r.layers))
    for (const layer of layers) if (!layersUsed.has(layer)) this.layers.remove(layer)
    const blobsUsed = new Set(images.flatMap((r) => [r.id, ...r.manifests.map((m) => m.digest), ...r.layers.flatMap((l) => this.blobDigestsOf(l))]))
    for (const digest of [...(candidates.blobs ?? []), ...layerBlobs]) if (!blobsUsed.has(digest)) this.blobs.remove(digest)
  }

  /** The digests of the stored blobs that unpack to the layer `diffId`. */
  private blobDigestsOf(diffId: string): string[] {
    return this.layers.blobsOf(diffId).map((b) => b.digest)
  }

  private findById(ref: string): ImageRecord | undefined {
    const hex = ref.replace(/^sha256:/, '')
    if (!/^[0-9a-f]{4,64}$/.test(hex)) return undefined
    // A full id names one file: no listing (a container's start resolves its image by full id).
    if (hex.length === 64) return this.readImage(`sha256:${hex}`)
    const matches = fs.readdirSync(this.imagesDir).filter((f) => f.startsWith(`sha256-${hex}`) && f.endsWith('.json'))
    if (matches.length > 1) throw new AmbiguousReferenceError(ref, matches.length, 'images')
    return matches.length ? this.readRecordFile(path.join(this.imagesDir, matches[0])) : undefined
  }

  private readImage(id: string): ImageRecord | undefined {
    return this.readRecordFile(this.imageFile(id))
  }

  /** A record of the current format (records of the pre-store format, without repoDigests, are ignored). */
  private readRecordFile(file: string): ImageRecord | undefined {
    const r = readJson<ImageRecord>(file)
    return r && Array.isArray(r.repoDigests) ? r : undefined
  }

  private imageFile(id: string): string {
    return path.join(this.imagesDir, `${id.replace(':', '-')}.json`)
  }
}

/** The image id a ref file holds; undefined when there is no such ref. */
function readRef(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
}

function union(a: string[] = [], b: string[] = []): string[] {
  return [...new Set([...a, ...b])]
}
