/**
 * Pushing an image: every blob the registry lacks (HEAD first), mounted
 * from another repository of the same registry when the image came from
 * one, else uploaded in one PUT or, when large, in PATCH chunks; the
 * manifest last, so the tag never names an incomplete image.
 *
 * @module
 */
import * as fs from 'node:fs'
import { DigestMismatchError, InvalidArgumentError } from '../../errors'
import { mapLimit } from '../../sys/throttle'
import { sha256Of } from '../blobs'
import { parseReference, type Reference } from '../reference'
import { cancellable, RegistryClient, type RegistryConnectOptions } from './client'
import { DOCKER_CONFIG, DOCKER_MANIFEST, OCI_MANIFEST } from '../media-types'
import type { PullProgress } from './pull'

/** A blob to push: what the manifest says about it and where it is stored. */
export interface PushBlob {
  digest: string
  size: number
  mediaType: string
  /** The file holding its bytes. */
  path: string
}

/** What an image push sends. */
export interface PushSource {
  config: PushBlob
  /** Layer blobs, bottom-most first. */
  layers: PushBlob[]
  /** A stored manifest naming exactly these blobs: pushed byte for byte, so its digest survives. */
  manifest?: { bytes: Buffer; mediaType: string }
  /** "registry/repository" names the blobs are known to be in, from the image's repoDigests: mount candidates. */
  knownIn?: string[]
}

/** Status of a blob during a push. */
export type PushStatus = 'waiting' | 'uploading' | 'exists' | 'mounted' | 'done'

/** A progress event of a push: one layer's state and bytes. */
export interface PushProgress extends Omit<PullProgress, 'status'> {
  /** 'waiting', 'uploading' (repeated as bytes go), 'done'; or, instead of uploading, 'exists' (the registry has the blob) or 'mounted' (taken from another repository of the registry). */
  status: PushStatus
}

/** Options of a push. */
export interface PushOptions extends RegistryConnectOptions {
  /** Called as blobs are checked, mounted, uploaded and finish. */
  onProgress?: (event: PushProgress) => void
  /** Blobs uploaded at once. Default 3. */
  concurrency?: number
  /** Blobs larger than this go up in PATCH chunks of this size; smaller ones in one PUT. Default 64 MiB. */
  chunkSize?: number
}

/** What a push wrote. */
export interface PushResult {
  /** The parsed reference pushed to (registry, repository, tag). */
  reference: Reference
  /** Digest of the manifest now in the registry ("name@digest" pulls exactly this image). */
  digest: string
  /** The manifest pushed. */
  manifest: {
    /** Its exact bytes, as stored in the registry (their sha256 is `digest`). */
    bytes: Buffer
    /** Its media type: Docker's schema 2 or OCI's image manifest. */
    mediaType: string
  }
}

const DEFAULT_CHUNK = 64 << 20

/** Pushes `source` to `target` ("127.0.0.1:5000/team/app:1.2"). Cancelled through `signal`: EABORTED. */
export async function pushImage(source: PushSource, target: string, opts: PushOptions = {}): Promise<PushResult> {
  return cancellable(`the push to ${target}`, opts.signal, () => push(source, parseReference(target), opts))
}

async function push(source: PushSource, ref: Reference, opts: PushOptions): Promise<PushResult> {
  const target = ref.toString()
  if (ref.digest) throw new InvalidArgumentError(`cannot push to "${target}": push to a tag (name:tag); the registry names the digest`)
  const client = new RegistryClient(ref.registry, opts)
  const mountFrom = (source.knownIn ?? []).map((n) => parseReference(n, { defaultTag: false })).find((r) => r.registry === ref.registry && r.repository !== ref.repository)
  const pusher = new BlobPusher(client, ref, mountFrom?.repository, opts.chunkSize ?? DEFAULT_CHUNK)
  const report = (layer: number, blob: PushBlob, bytes: number, status: PushStatus) => opts.onProgress?.({ layer, digest: blob.digest, bytes, total: blob.size, status })
  source.layers.forEach((b, i) => report(i, b, 0, 'waiting'))
  await mapLimit(source.layers, opts.concurrency ?? 3, async (blob, i) => {
    const how = await pusher.push(blob, (bytes) => report(i, blob, bytes, 'uploading'))
    report(i, blob, blob.size, how === 'uploading' ? 'done' : how)
  })
  await pusher.push(source.config, () => {})
  const manifest = source.manifest ?? newManifest(source)
  return { reference: ref, digest: await putManifest(client, ref, manifest), manifest }
}

/** A manifest for the blobs, when no stored manifest names them: Docker schema 2 for a Docker config, else OCI. */
function newManifest(source: PushSource): { bytes: Buffer; mediaType: string } {
  const mediaType = source.config.mediaType === DOCKER_CONFIG ? DOCKER_MANIFEST : OCI_MANIFEST
  const desc = (b: PushBlob) => ({ mediaType: b.mediaType, digest: b.digest, size: b.size })
  const doc = { schemaVersion: 2, mediaType, config: desc(source.config), layers: source.layers.map(desc) }
  return { bytes: Buffer.from(JSON.stringify(doc)), mediaType }
}

/** PUTs the manifest under the tag; returns its digest. */
async function putManifest(client: RegistryClient, ref: Reference, manifest: { bytes: Buffer; mediaType: string }): Promise<string> {
  const res = await client.request(`/v2/${ref.repository}/manifests/${ref.tag}`, {
    method: 'PUT',
    scopes: [pushScope(ref)],
    headers: { 'content-type': manifest.mediaType, 'content-length': String(manifest.bytes.length) },
    body: () => manifest.bytes,
  })
  await client.expectStatus(res, [200, 201], `pushing the manifest of ${ref}`)
  return sha256Of(manifest.bytes)
}

function pushScope(ref: Reference): string {
  return `repository:${ref.repository}:pull,push`
}

/** Pushes blobs into one repository. */
class BlobPusher {
  constructor(
    private readonly client: RegistryClient,
    private readonly ref: Reference,
    private readonly mountFrom: string | undefined,
    private readonly chunkSize: number,
  ) {}

  private get scopes(): string[] {
    return this.mountFrom ? [pushScope(this.ref), `repository:${this.mountFrom}:pull`] : [pushScope(this.ref)]
  }

  /** Makes sure the registry has the blob; says how. */
  async push(blob: PushBlob, onBytes: (bytes: number) => void): Promise<'exists' | 'mounted' | 'uploading'> {
    if (await this.exists(blob)) return 'exists'
    // A stored file of another size would send a Content-Length the body never fills.
    const size = fs.statSync(blob.path).size
    if (size !== blob.size) throw new DigestMismatchError(`blob ${blob.digest}`, `the stored file has ${size} bytes, the manifest says ${blob.size}`)
    const started = await this.startUpload(blob)
    if (started === 'mounted') return 'mounted'
    const location = blob.size > this.chunkSize ? await this.uploadChunks(started, blob, onBytes) : started
    await this.finish(location, blob, blob.size > this.chunkSize)
    onBytes(blob.size)
    return 'uploading'
  }

  private async exists(blob: PushBlob): Promise<boolean> {
    const res = await this.client.request(`/v2/${this.ref.repository}/blobs/${blob.digest}`, { method: 'HEAD', scopes: this.scopes })
    if (res.status === 404) return false
    if (!res.ok) await this.client.fail(res, `checking blob ${blob.digest} in ${this.ref.name}`)
    return true
  }

  /** POSTs an upload (asking for a mount when another repository has the blob); the upload's location, or 'mounted'. */
  private async startUpload(blob: PushBlob): Promise<string | 'mounted'> {
    const query = this.mountFrom ? `?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(this.mountFrom)}` : ''
    const res = await this.client.request(`/v2/${this.ref.repository}/blobs/uploads/${query}`, { method: 'POST', scopes: this.scopes, headers: { 'content-length': '0' } })
    const mounted = res.status === 201 && !!this.mountFrom
    await this.client.expectStatus(res, mounted ? [201] : [202], `starting the upload of ${blob.digest} to ${this.ref.name}`, !mounted)
    return mounted ? 'mounted' : new URL(res.headers.get('location') as string, this.client.origin).toString()
  }

  /** PATCHes the blob in chunks; returns the location to finish at. */
  private async uploadChunks(location: string, blob: PushBlob, onBytes: (bytes: number) => void): Promise<string> {
    for (let start = 0; start < blob.size; start += this.chunkSize) {
      const end = Math.min(start + this.chunkSize, blob.size) - 1
      const res = await this.client.request(location, {
        method: 'PATCH',
        scopes: this.scopes,
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${start}-${end}`, 'content-length': String(end - start + 1) },
        body: () => fs.createReadStream(blob.path, { start, end }),
      })
      await this.client.expectStatus(res, [202], `uploading bytes ${start}-${end} of ${blob.digest} to ${this.ref.name}`, true)
      location = new URL(res.headers.get('location') as string, this.client.origin).toString()
      onBytes(end + 1)
    }
    return location
  }

  /** The closing PUT with the digest: carries the whole blob for a monolithic upload, nothing after chunks. */
  private async finish(location: string, blob: PushBlob, chunked: boolean): Promise<void> {
    const url = new URL(location)
    url.searchParams.set('digest', blob.digest)
    const res = await this.client.request(url.toString(), {
      method: 'PUT',
      scopes: this.scopes,
      headers: { 'content-type': 'application/octet-stream', 'content-length': chunked ? '0' : String(blob.size) },
      ...(chunked ? {} : { body: () => fs.createReadStream(blob.path) }),
    })
    await this.client.expectStatus(res, [201], `finishing the upload of ${blob.digest} to ${this.ref.name}`)
  }
}
