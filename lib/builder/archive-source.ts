/**
 * ADD's local archives: a source file that is a tar, plain or compressed
 * (gzip, bzip2, xz, zstd), is extracted into the destination rather than
 * copied (told by its content, as Docker does: a .gz that holds no tar, or
 * that does not decompress, is copied as it is).
 * Entries keep their owners, modes and mtimes (`--chown`/`--chmod` win);
 * their names are cleaned and joined below the destination, so `..` and
 * absolute names cannot leave it. Bytes stream through: nothing is held.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { Readable } from 'node:stream'
import type * as tarStream from 'tar-stream'
import * as tar from 'tar-stream'
import { decompressed, feed } from '../files/tar-streams'
import { entryWritten } from '../files/tar-writer'
import type { Source } from './context'
import { clamped } from './source-date'
import { closeQuietly } from '../sys/libc'

const tarBlock = 512

/** Whether ADD extracts this source: a single file whose (decompressed) first block is a tar header. */
export async function isExtractedArchive(s: Source): Promise<boolean> {
  const single = s.entries.length === 1 && s.entries[0].type === 'file'
  return single && isTar(await decompressedHead(fileReadable(s), tarBlock))
}

/** The first `n` bytes `src` decompresses to (fewer when it is shorter or does not decompress), reading no further. */
async function decompressedHead(src: Readable, n: number): Promise<Buffer> {
  const out = decompressed(src)
  const chunks: Buffer[] = []
  let got = 0
  try {
    for await (const chunk of out) {
      chunks.push(chunk as Buffer)
      got += (chunk as Buffer).length
      if (got >= n) break
    }
  } catch {
    // Bad compressed data: not an archive, copied as it is (as Docker does).
  } finally {
    out.destroy()
  }
  return Buffer.concat(chunks)
}

/** A ustar header's magic at offset 257 (GNU and POSIX tars both write one). */
function isTar(block: Buffer): boolean {
  return block.length >= tarBlock && block.subarray(257, 262).toString('latin1') === 'ustar'
}

/** Writes the archive's entries into `pack` below `dest` (owner and mode overridden by `--chown`/`--chmod`). */
export async function writeArchiveEntries(pack: tarStream.Pack, s: Source, dest: string, over: { chown?: { uid: number; gid: number }; chmod?: number; clampTo?: Date }): Promise<void> {
  const extract = tar.extract()
  const feeding = feed(decompressed(fileReadable(s)), extract)
  feeding.catch(() => {})
  for await (const entry of extract) {
    const h = entry.header
    if (!['file', 'directory', 'symlink', 'link', 'fifo', 'character-device', 'block-device'].includes(h.type ?? 'file')) {
      entry.resume()
      continue
    }
    const name = below(dest, h.name)
    const header = { ...h, name: `${name.slice(1)}${h.type === 'directory' ? '/' : ''}`, ...(h.type === 'link' && h.linkname ? { linkname: below(dest, h.linkname).slice(1) } : {}), mtime: clamped(h.mtime ?? new Date(0), over.clampTo), ...over.chown, ...(over.chmod !== undefined && h.type !== 'symlink' ? { mode: over.chmod } : {}) }
    await entryWritten(pack, header, h.type === 'file' ? (entry as AsyncIterable<Buffer>) : undefined)
    if (h.type !== 'file') entry.resume()
  }
  await feeding
}

/** `name` cleaned (no `..` above the root) and joined below `dest`. */
function below(dest: string, name: string): string {
  return path.posix.join(dest, path.posix.normalize(`/${name}`))
}

/** The source's one file as a stream; its fd is libc's, so the stream closes it with closeQuietly, not fs.close. */
function fileReadable(s: Source): fs.ReadStream {
  const closeFd = (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => done((closeQuietly(fd), null))
  return fs.createReadStream('', { fd: s.open(s.entries[0].rel), fs: { read: fs.read, close: closeFd } }) as fs.ReadStream
}
