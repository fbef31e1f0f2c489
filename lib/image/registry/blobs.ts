/**
 * Fetching manifests and blobs. A blob arrives as a stream of chunks that
 * survives a broken connection: the download resumes with a Range request
 * from the last byte received (or skips what it had, when the server
 * ignores Range), so a flaky link costs a reconnect, not a restart.
 *
 * @module
 */
import { DigestMismatchError, MiniContainerError } from '../../errors'
import { sha256Of } from '../blobs'
import type { Reference } from '../reference'
import type { RegistryClient } from './client'
import { errorDetail } from './error-body'
import { ManifestNotFoundError, RegistryError } from './errors'
import type { HttpResponse } from './http'
import { MANIFEST_ACCEPT } from './media-types'
import type { Descriptor } from './manifest'

/** Registries refuse manifests over 4 MiB; so do we, to bound memory. */
const MAX_MANIFEST = 4 << 20
const MAX_RESUMES = 5

/** A manifest as fetched: bytes, their digest, the Content-Type. */
export interface FetchedManifest {
  bytes: Buffer
  digest: string
  contentType: string | null
}

/** The pull scope of a repository. */
export function pullScope(ref: Reference): string {
  return `repository:${ref.repository}:pull`
}

/**
 * GETs a manifest by tag or digest. When `expected` is given (a digest
 * pin, or the digest an index named) the bytes must hash to it.
 */
export async function fetchManifest(client: RegistryClient, ref: Reference, tagOrDigest: string, expected?: string): Promise<FetchedManifest> {
  const res = await client.request(`/v2/${ref.repository}/manifests/${tagOrDigest}`, { scopes: [pullScope(ref)], headers: { accept: MANIFEST_ACCEPT } })
  if (res.status === 404) throw new ManifestNotFoundError(`${ref.name}:${tagOrDigest}`.replace(/:sha256:/, '@sha256:'), (await errorDetail(res)) || `HTTP ${res.status}`)
  if (!res.ok) await client.fail(res, `fetching the manifest of ${ref}`)
  const bytes = await readLimited(res, MAX_MANIFEST, `the manifest of ${ref}`)
  const digest = sha256Of(bytes)
  if (expected && digest !== expected)
    throw new DigestMismatchError(`the manifest of ${ref}`, `its digest is ${digest}, not ${expected}`)
  return { bytes, digest, contentType: res.headers.get('content-type') }
}

/**
 * The chunks of a blob, resuming after a broken connection. `onBytes`
 * hears the running count. Stops with EDIGEST when the registry sends
 * more than the descriptor's size (the store verifies the digest).
 */
export async function* blobChunks(client: RegistryClient, ref: Reference, desc: Descriptor, onBytes?: (received: number) => void): AsyncGenerator<Buffer> {
  let received = 0
  for (let attempt = 1; ; attempt++) {
    const headers: Record<string, string> = received ? { range: `bytes=${received}-` } : {}
    const res = await client.request(`/v2/${ref.repository}/blobs/${desc.digest}`, { scopes: [pullScope(ref)], headers })
    if (res.status === 404) throw new RegistryError(`blob ${desc.digest} of ${ref} is not in the registry (${(await errorDetail(res)) || `HTTP ${res.status}`})`, 404)
    if (!res.ok) await client.fail(res, `downloading blob ${desc.digest} of ${ref}`)
    // A server that ignores Range starts again from byte 0: drop what we already have.
    let skip = received && res.status === 200 ? received : 0
    try {
      for await (const chunk of res.body) {
        let buf = chunk as Buffer
        if (skip) {
          const n = Math.min(skip, buf.length)
          skip -= n
          buf = buf.subarray(n)
          if (!buf.length) continue
        }
        received += buf.length
        if (received > desc.size)
          throw new DigestMismatchError(`blob ${desc.digest} of ${ref}`, `the registry sent more than the ${desc.size} bytes its manifest says`)
        onBytes?.(received)
        yield buf
      }
      return
    } catch (err) {
      if (client.signal?.aborted) throw client.signal.reason
      if (err instanceof MiniContainerError || attempt > MAX_RESUMES) throw interrupted(ref, desc, received, err)
    }
  }
}

function interrupted(ref: Reference, desc: Descriptor, received: number, err: unknown): Error {
  if (err instanceof MiniContainerError) return err
  return new RegistryError(`download of blob ${desc.digest} of ${ref} broke off at ${received} of ${desc.size} bytes and did not resume: ${(err as Error).message}`, undefined, { cause: err })
}

/** Reads a response body, refusing more than `max` bytes (reading no more than that). */
export async function readLimited(res: HttpResponse, max: number, what: string): Promise<Buffer> {
  const { bytes, complete } = await res.read(max)
  if (!complete) throw new RegistryError(`${what} is larger than ${max} bytes; refusing it`)
  return bytes
}
