/**
 * The files of an image archive (docker save output or an OCI image
 * layout), read once and streaming: a tar (plain, gzip or zstd; a path or a
 * stream) or a directory. Small files (manifests, configs, index.json) are
 * kept in memory; every larger one streams straight into the blob store,
 * so a layer is never held in memory and is read exactly once.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Readable } from 'node:stream'
import * as tar from 'tar-stream'
import { InvalidArgumentError, MiniContainerError } from '../../errors'
import { decompressed, feed } from '../../files/tar'
import type { BlobStore } from '../blobs'

/** Files up to this size are kept in memory (manifests and configs are a few KiB). */
const smallFile = 256 * 1024

/** Read access to an archive's files by their path inside it. */
export interface ArchiveFiles {
  /** A small file's bytes; undefined when absent. */
  small(name: string): Buffer | undefined
  /** The blob digest of a file (stored by now); `expected` is checked when the file's name is its digest. */
  blob(name: string, expected?: string): Promise<string>
  /** Blob digests this archive added to the store (to remove again when the load fails). */
  readonly added: string[]
}

const clean = (name: string) => path.posix.normalize(name).replace(/^(\.\/)+/, '').replace(/^\/+/, '')

/** Reads a tar archive (plain, gzip or zstd) into memory and the blob store. */
export async function readArchiveStream(src: Readable, blobs: BlobStore, signal?: AbortSignal): Promise<ArchiveFiles> {
  const small = new Map<string, Buffer>()
  const stored = new Map<string, string>()
  const links = new Map<string, string>()
  const added: string[] = []
  const extract = tar.extract()
  const input = decompressed(src)
  const feeding = feed(input, extract)
  feeding.catch(() => {})
  let entries = 0
  try {
    for await (const entry of extract) {
      signal?.throwIfAborted()
      entries++
      const h = entry.header
      const name = clean(h.name)
      if (h.type === 'symlink' || h.type === 'link') {
        // docker save (before 25) links identical layers to the first copy.
        links.set(name, h.type === 'symlink' ? path.posix.join(path.posix.dirname(name), h.linkname ?? '') : clean(h.linkname ?? ''))
        entry.resume()
      } else if (h.type !== 'file' && h.type !== 'contiguous-file') entry.resume()
      else if ((h.size ?? 0) <= smallFile) small.set(name, await collect(entry))
      else {
        const { digest, fresh } = await blobs.add(Readable.from(entry), { signal })
        if (fresh) added.push(digest)
        stored.set(name, digest)
      }
    }
    await feeding
  } catch (err) {
    input.destroy()
    for (const d of added) blobs.remove(d)
    if (err instanceof MiniContainerError) throw err
    throw new InvalidArgumentError(`not a readable image archive: ${(err as Error).message} (expected a tar, tar.gz or tar.zst from docker save, skopeo or an OCI image layout)`)
  }
  if (entries === 0) throw new InvalidArgumentError('not an image archive: it holds no files (expected a tar from docker save or an OCI image layout)')
  const resolve = (name: string) => {
    let n = clean(name)
    for (let hops = 0; links.has(n) && hops < 16; hops++) n = clean(links.get(n)!)
    return n
  }
  return {
    added,
    small: (name) => small.get(resolve(name)),
    blob: async (name, expected) => {
      const n = resolve(name)
      const bytes = small.get(n)
      const digest = bytes ? blobs.put(bytes) : stored.get(n)
      if (!digest) throw new InvalidArgumentError(`the archive has no file "${name}" (truncated, or not written by docker save or an OCI tool)`)
      if (bytes && !added.includes(digest)) added.push(digest)
      if (expected && digest !== expected) throw new MiniContainerError('EDIGEST', `${name} in the archive hashes to ${digest}, not ${expected}: the archive is corrupt or was tampered with; nothing was stored`)
      return digest
    },
  }
}

/** An OCI image layout (or unpacked docker save output) as a directory. */
export function readArchiveDir(dir: string, blobs: BlobStore, signal?: AbortSignal): ArchiveFiles {
  const added: string[] = []
  const inside = (name: string) => {
    const p = path.join(dir, clean(name))
    if (!p.startsWith(path.join(dir, '/'))) throw new InvalidArgumentError(`"${name}" points outside the image layout ${dir}`)
    return p
  }
  return {
    added,
    small: (name) => {
      const p = inside(name)
      const st = fs.statSync(p, { throwIfNoEntry: false })
      return st?.isFile() && st.size <= smallFile ? fs.readFileSync(p) : undefined
    },
    blob: async (name, expected) => {
      const p = inside(name)
      if (!fs.existsSync(p)) throw new InvalidArgumentError(`the image layout ${dir} has no file "${name}"`)
      if (expected && blobs.has(expected)) return expected
      const { digest, fresh } = await blobs.add(fs.createReadStream(p), { signal })
      if (fresh) added.push(digest)
      if (expected && digest !== expected) {
        if (fresh) blobs.remove(digest)
        throw new MiniContainerError('EDIGEST', `${name} in ${dir} hashes to ${digest}, not ${expected}: the layout is corrupt or was tampered with; nothing was stored`)
      }
      return digest
    },
  }
}

async function collect(entry: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of entry) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}
