/**
 * ADD's local archives: a source file that is a tar, plain or gzip
 * compressed, is extracted into the destination rather than copied (told by
 * its content, as Docker does: a .gz that holds no tar is copied as it is).
 * Entries keep their owners, modes and mtimes (`--chown`/`--chmod` win);
 * their names are cleaned and joined below the destination, so `..` and
 * absolute names cannot leave it. Bytes stream through: nothing is held.
 * bzip2 and xz archives are EUNSUPPORTED (Node has no decoder for them, and
 * the library runs no external program).
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as zlib from 'node:zlib'
import type * as tarStream from 'tar-stream'
import * as tar from 'tar-stream'
import { decompressed, feed } from '../files/tar-streams'
import { entryWritten } from '../files/tar-writer'
import type { Source } from './context'
import { UnsupportedDockerfileFeatureError } from './errors'
import { fileHead } from './source-bytes'
import { clamped } from './source-date'

const sniffBytes = 64 << 10

/** Whether ADD extracts this source: a single tar file, plain or gzip-compressed; bzip2/xz are EUNSUPPORTED. */
export function isExtractedArchive(s: Source, line: number): boolean {
  const e = s.entries.length === 1 && s.entries[0].type === 'file' ? s.entries[0] : undefined
  if (!e) return false
  const head = fileHead(s, e, sniffBytes)
  if (head.subarray(0, 3).toString('latin1') === 'BZh' || head.subarray(0, 6).equals(Buffer.from('fd377a585a00', 'hex')))
    throw new UnsupportedDockerfileFeatureError(line, `ADD of the bzip2/xz archive ${s.path} is not supported yet: use a .tar or .tar.gz, or COPY it and extract it in a RUN`)
  if (head[0] === 0x1f && head[1] === 0x8b) return isTar(gunzipHead(head))
  return isTar(head)
}

/** A ustar header's magic at offset 257 (GNU and POSIX tars both write one). */
function isTar(block: Buffer): boolean {
  return block.length >= 512 && block.subarray(257, 262).toString('latin1') === 'ustar'
}

function gunzipHead(head: Buffer): Buffer {
  try {
    return zlib.gunzipSync(head, { finishFlush: zlib.constants.Z_SYNC_FLUSH })
  } catch {
    return Buffer.alloc(0)
  }
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

function fileReadable(s: Source): fs.ReadStream {
  return fs.createReadStream('', { fd: s.open(s.entries[0].rel) }) as fs.ReadStream
}
