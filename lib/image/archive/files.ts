/**
 * The files of an image archive (docker save output or an OCI image
 * layout), read once and streaming: a tar (plain, gzip or zstd; a path or a
 * stream) or a directory. Every file of a tar streams straight into the
 * blob store, whatever its size: holding "small" files in memory let a
 * megabyte of gzip made of many mid-sized zero-filled entries take a
 * gigabyte. A manifest, index or config is read back from there when it is
 * needed, one at a time and up to {@link MAX_METADATA}; a layer is never
 * held in memory and is read exactly once.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Readable } from 'node:stream'
import * as tar from 'tar-stream'
import { DigestMismatchError, InvalidArgumentError, MiniContainerError } from '../../errors'
import { decompressed, feed } from '../../files/tar-streams'
import type { BlobStore } from '../blobs'
import { coalescedProgress, countedChunks } from '../progress'

/** The most a manifest, index or config read into memory may have (they are a few KiB; a pull allows configs this big). */
export const MAX_METADATA = 8 << 20
/** Files an archive may hold (docker save writes a few per image and layer). */
const MAX_ENTRIES = 100_000

/** Read access to an archive's files by their path inside it. */
export interface ArchiveFiles {
  /** A metadata file's bytes (manifest, index, config); undefined when absent, EINVALID when larger than {@link MAX_METADATA}. */
  small(name: string): Buffer | undefined
  /** The blob digest of a file (stored by now); `expected` is checked when the file's name is its digest. */
  blob(name: string, expected?: string): Promise<string>
  /** Blob digests this archive added to the store (to remove again when the load fails). */
  readonly added: string[]
}

/** A progress event of `Image.load`: one file of the archive (a layer, a config, a manifest) read into the store. */
export interface LoadProgress {
  /** The file's path in the archive: "blobs/sha256/<hex>", "<hex>/layer.tar", "manifest.json"... */
  file: string
  /** Bytes read so far. */
  bytes: number
  /** The file's size. */
  total: number
  /** 'loading' (at its start, then every 512 KiB read), then 'loaded' once it is stored and hashed. */
  status: 'loading' | 'loaded'
}

/** How an archive is read: cancelled through `signal`, its files' progress told to `onProgress`. */
export interface ArchiveReadOptions {
  signal?: AbortSignal | undefined
  onProgress?: ((event: LoadProgress) => void) | undefined
}

/** Stores one file of the archive as a blob, telling its progress. */
async function storeFile(blobs: BlobStore, file: string, total: number, chunks: AsyncIterable<Buffer>, opts: ArchiveReadOptions): Promise<{ digest: string; fresh: boolean }> {
  const report = opts.onProgress
  if (!report) return blobs.add(Readable.from(chunks), { signal: opts.signal })
  report({ file, bytes: 0, total, status: 'loading' })
  const counted = countedChunks(chunks, coalescedProgress(total, (bytes) => report({ file, bytes, total, status: 'loading' })))
  const stored = await blobs.add(Readable.from(counted), { signal: opts.signal })
  report({ file, bytes: total, total, status: 'loaded' })
  return stored
}

const clean = (name: string) => path.posix.normalize(name).replace(/^(\.\/)+/, '').replace(/^\/+/, '')

/** Reads a tar archive (plain, gzip or zstd) into the blob store. */
export async function readArchiveStream(src: Readable, blobs: BlobStore, opts: ArchiveReadOptions = {}): Promise<ArchiveFiles> {
  const { signal } = opts
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
      if (++entries > MAX_ENTRIES) throw new InvalidArgumentError(`not an image archive: it holds more than ${MAX_ENTRIES} files (docker save and OCI layouts hold a few per image and layer)`)
      const h = entry.header
      const name = clean(h.name)
      if (h.type === 'symlink' || h.type === 'link') {
        // docker save (before 25) links identical layers to the first copy.
        links.set(name, h.type === 'symlink' ? path.posix.join(path.posix.dirname(name), h.linkname ?? '') : clean(h.linkname ?? ''))
        entry.resume()
      } else if (h.type !== 'file' && h.type !== 'contiguous-file') entry.resume()
      else {
        const { digest, fresh } = await storeFile(blobs, name, h.size ?? 0, entry as AsyncIterable<Buffer>, opts)
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
    small: (name) => {
      const digest = stored.get(resolve(name))
      return digest === undefined ? undefined : readMetadata(blobs.path(digest), name)
    },
    blob: async (name, expected) => {
      const digest = stored.get(resolve(name))
      if (!digest) throw new InvalidArgumentError(`the archive has no file "${name}" (truncated, or not written by docker save or an OCI tool)`)
      if (expected && digest !== expected) throw new DigestMismatchError(`${name} in the archive`, `hashes to ${digest}, not ${expected}`)
      return digest
    },
  }
}

/** A manifest, index or config file's bytes; EINVALID naming it and the limit when it is larger than {@link MAX_METADATA}. */
function readMetadata(file: string, name: string): Buffer {
  const fd = fs.openSync(file, 'r')
  try {
    const size = fs.fstatSync(fd).size
    if (size > MAX_METADATA) throw new InvalidArgumentError(`"${name}" in the image archive is ${size} bytes: more than the ${MAX_METADATA} a manifest, index or config may have`)
    const bytes = Buffer.alloc(size)
    let got = 0
    for (let n = 1; got < size && n > 0; got += n) n = fs.readSync(fd, bytes, got, size - got, got)
    return bytes.subarray(0, got)
  } finally {
    fs.closeSync(fd)
  }
}

/** An OCI image layout (or unpacked docker save output) as a directory. */
export function readArchiveDir(dir: string, blobs: BlobStore, opts: ArchiveReadOptions = {}): ArchiveFiles {
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
      return st?.isFile() ? readMetadata(p, name) : undefined
    },
    blob: async (name, expected) => {
      const p = inside(name)
      if (!fs.existsSync(p)) throw new InvalidArgumentError(`the image layout ${dir} has no file "${name}"`)
      if (expected && blobs.has(expected)) return expected
      const { digest, fresh } = await storeFile(blobs, clean(name), fs.statSync(p).size, fs.createReadStream(p), opts)
      if (fresh) added.push(digest)
      if (expected && digest !== expected) {
        if (fresh) blobs.remove(digest)
        throw new DigestMismatchError(`${name} in ${dir}`, `hashes to ${digest}, not ${expected}`)
      }
      return digest
    },
  }
}
