/**
 * `docker load`: images out of a docker-archive (docker save; from Docker
 * 25 on it is also an OCI layout, whose manifest.json points into blobs/)
 * or an OCI image layout (index.json; nested indexes resolved to the host's
 * platform).
 *
 * Every manifest and config is checked against the digest it is named by,
 * every layer is unpacked once and must produce the diffID its config
 * lists, and images are recorded only after all of that succeeded: a bad
 * archive is a coded error (EDIGEST, EINVALID) and leaves no blob, layer or
 * image behind.
 *
 * @module
 */
import { DigestMismatchError, InvalidArgumentError } from '../../errors'
import { checkDigest, sha256Of } from '../blobs'
import { checkLayerMediaType } from '../layers'
import { DOCKER_MANIFEST, manifestKind } from '../media-types'
import { parseOciConfig } from '../oci-config'
import { hostPlatform } from '../platform'
import type { ImageRecord, ImageStore } from '../store'
import type { ArchiveFiles } from './files'

/** A metadata file of the archive: its name and the digest its bytes have (read again, one at a time, when needed). */
interface MetadataFile {
  name: string
  digest: string
}

/** An image found in an archive, before it is stored; it names its config and manifest rather than holding them, so that many images cost no memory. */
interface LoadPlan {
  config: MetadataFile
  /** Where each layer is in the archive, bottom-most first. */
  layers: { name: string; digest?: string; mediaType?: string }[]
  refs: string[]
  manifest?: MetadataFile & { mediaType: string }
}

interface Descriptor {
  mediaType?: string
  digest: string
  size?: number
  platform?: { os?: string; architecture?: string }
  annotations?: Record<string, string>
}

const blobName = (digest: string) => `blobs/sha256/${checkDigest(digest).slice(7)}`

/** The digest a file's name announces, when it is one ("blobs/sha256/<hex>", "<hex>.json"). */
function digestOfName(name: string): string | undefined {
  const m = /^(?:\.\/)?(?:blobs\/sha256\/([0-9a-f]{64})|([0-9a-f]{64})\.json)$/.exec(name)
  return m ? `sha256:${m[1] ?? m[2]}` : undefined
}

function json<T>(files: ArchiveFiles, name: string, expected?: string): { doc: T; bytes: Buffer } {
  const bytes = files.small(name)
  if (!bytes) throw new InvalidArgumentError(`the archive has no "${name}" (truncated, or not written by docker save or an OCI tool)`)
  if (expected && sha256Of(bytes) !== expected) throw new DigestMismatchError(`${name} in the archive`, `it hashes to ${sha256Of(bytes)}, not ${expected}`)
  try {
    return { doc: JSON.parse(bytes.toString('utf8')) as T, bytes }
  } catch {
    throw new InvalidArgumentError(`"${name}" in the archive is not JSON`)
  }
}

/** A JSON file of the archive, checked and named by its digest; its bytes are not kept. */
function metadataFile(files: ArchiveFiles, name: string, expected?: string): MetadataFile {
  return { name, digest: sha256Of(json(files, name, expected).bytes) }
}

/** The bytes of a file a plan names, checked again against the digest they had. */
const bytesOf = (files: ArchiveFiles, f: MetadataFile): Buffer => json(files, f.name, f.digest).bytes

/** docker save's manifest.json. */
function dockerPlans(files: ArchiveFiles): LoadPlan[] {
  const { doc } = json<{ Config: string; RepoTags?: string[] | null; Layers: string[] }[]>(files, 'manifest.json')
  if (!Array.isArray(doc)) throw new InvalidArgumentError('manifest.json of the archive is not a list of images')
  return doc.map((entry) => {
    if (typeof entry?.Config !== 'string' || !Array.isArray(entry.Layers)) throw new InvalidArgumentError('manifest.json of the archive has an entry without Config and Layers')
    return {
      config: metadataFile(files, entry.Config, digestOfName(entry.Config)),
      layers: entry.Layers.map((name) => ({ name, digest: digestOfName(name) })),
      refs: entry.RepoTags ?? [],
    }
  })
}

/** The ref an OCI layout names a manifest with: containerd's full name, or ref.name when it is a full reference. */
function refOf(d: Descriptor): string | undefined {
  const a = d.annotations ?? {}
  const name = a['io.containerd.image.name'] ?? a['org.opencontainers.image.ref.name']
  return name && /[:/]/.test(name) ? name : undefined
}

/** index.json of an OCI layout, nested indexes narrowed to the host's platform. */
function ociPlans(files: ArchiveFiles): LoadPlan[] {
  const plans: LoadPlan[] = []
  const host = hostPlatform()
  const visit = (d: Descriptor, ref: string | undefined, depth: number): void => {
    const { doc, bytes } = json<{ mediaType?: string; manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] }>(files, blobName(d.digest), d.digest)
    const mediaType = d.mediaType ?? doc.mediaType
    const kind = manifestKind(mediaType)
    if (kind === 'index' && depth < 4) {
      const mine = (doc.manifests ?? []).filter((m) => m.platform?.os === host.os && m.platform?.architecture === host.architecture && manifestKind(m.mediaType) === 'manifest')
      if (!mine.length) throw new InvalidArgumentError(`the index ${d.digest} in the archive has no image for ${host.os}/${host.architecture}`)
      for (const m of mine.slice(0, 1)) visit(m, refOf(m) ?? ref, depth + 1)
      return
    }
    if (kind !== 'manifest' || !doc.config || !Array.isArray(doc.layers)) throw new InvalidArgumentError(`unknown manifest media type "${mediaType}" in the archive: expected an OCI or Docker image manifest or index`)
    for (const l of doc.layers) checkLayerMediaType(l.mediaType ?? '')
    plans.push({
      config: metadataFile(files, blobName(doc.config.digest), doc.config.digest),
      layers: doc.layers.map((l) => ({ name: blobName(l.digest), digest: l.digest, mediaType: l.mediaType })),
      refs: ref ? [ref] : [],
      manifest: { name: blobName(d.digest), digest: sha256Of(bytes), mediaType: mediaType ?? DOCKER_MANIFEST },
    })
  }
  const { doc } = json<{ manifests?: Descriptor[] }>(files, 'index.json')
  if (!Array.isArray(doc.manifests)) throw new InvalidArgumentError('index.json of the archive has no "manifests" list')
  for (const d of doc.manifests) visit(d, refOf(d), 0)
  return plans
}

/** Unpacks a plan's layers, checking each against the config's diffIDs; adds the layers it unpacked to `fresh`. */
async function unpackPlan(store: ImageStore, files: ArchiveFiles, plan: LoadPlan, fresh: string[]): Promise<void> {
  const diffIds = parseOciConfig(bytesOf(files, plan.config)).rootfs.diff_ids
  if (diffIds.length !== plan.layers.length) throw new InvalidArgumentError(`an image in the archive lists ${plan.layers.length} layers but its config has ${diffIds.length}`)
  for (const [i, layer] of plan.layers.entries()) {
    const digest = await files.blob(layer.name, layer.digest)
    const known = store.layers.unpacked(digest)
    const diffId = await store.unpackLayer(digest, layer.mediaType)
    if (!known) fresh.push(diffId)
    if (diffId !== diffIds[i]) throw new DigestMismatchError(`layer ${i + 1} (${layer.name}) of the archive`, `it unpacks to ${diffId}, but the image config says ${diffIds[i]}`)
  }
}

/** Loads every image of an archive; all or nothing. */
export async function loadArchive(store: ImageStore, files: ArchiveFiles): Promise<ImageRecord[]> {
  const fresh: string[] = []
  try {
    const plans = files.small('manifest.json') ? dockerPlans(files) : files.small('index.json') ? ociPlans(files) : undefined
    if (!plans) throw new InvalidArgumentError('not an image archive: it has neither manifest.json (docker save) nor index.json (OCI image layout)')
    for (const plan of plans) await unpackPlan(store, files, plan, fresh)
    const records = plans.map((p) =>
      store.putImageFromConfig(bytesOf(files, p.config), { refs: p.refs, manifest: p.manifest && { bytes: bytesOf(files, p.manifest), mediaType: p.manifest.mediaType } }),
    )
    store.dropUnreferenced({ blobs: files.added })
    return records
  } catch (err) {
    store.dropUnreferenced({ layers: fresh, blobs: files.added })
    throw err
  }
}
