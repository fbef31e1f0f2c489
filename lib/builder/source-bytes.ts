/**
 * A selected source file's bytes, read in bounded chunks (for its digest and
 * its copy into a layer): never the whole file at once, so a build's
 * memory does not grow with the files it copies. A file whose size changed since it was selected is an
 * error, never a layer whose tar header lies about it.
 *
 * @module
 */
import * as fs from 'node:fs'
import { promisify } from 'node:util'
import { InvalidArgumentError } from '../errors'
import type { Source, SourceEntry } from './context'
import { closeQuietly } from '../sys/libc'

const chunkBytes = 1 << 20
/**
 * Files up to this size are read here, synchronously, in one chunk: their bytes come from the page cache
 * for less than the two threadpool round trips of a read and the EOF check (a COPY of small files did 40
 * for 20 files, for its digest, and again for its layer).
 */
const SYNC_READ_MAX = 64 << 10
const read = promisify(fs.read)

/** The file's bytes, chunk by chunk (each chunk a fresh buffer, so a consumer may keep it). */
export async function* fileChunks(source: Source, entry: SourceEntry): AsyncGenerator<Buffer> {
  const fd = source.open(entry.rel)
  try {
    if (entry.size <= SYNC_READ_MAX) {
      const bytes = smallFileBytes(fd, source, entry)
      if (bytes.length) yield bytes
      return
    }
    for (let left = entry.size; left > 0; ) {
      const buf = Buffer.allocUnsafe(Math.min(chunkBytes, left))
      const { bytesRead } = await read(fd, buf, 0, buf.length, null)
      if (bytesRead === 0) throw changedWhileRead(source, entry)
      left -= bytesRead
      yield buf.subarray(0, bytesRead)
    }
    if ((await read(fd, Buffer.alloc(1), 0, 1, null)).bytesRead !== 0) throw changedWhileRead(source, entry)
  } finally {
    closeQuietly(fd)
  }
}

/** A small file's bytes, read to its end: one more byte than selected, or fewer, is a file that changed. */
function smallFileBytes(fd: number, source: Source, entry: SourceEntry): Buffer {
  const buf = Buffer.allocUnsafe(entry.size + 1)
  let got = 0
  for (let n; got < buf.length && (n = fs.readSync(fd, buf, got, buf.length - got, null)) > 0; ) got += n
  if (got !== entry.size) throw changedWhileRead(source, entry)
  return buf.subarray(0, got)
}

function changedWhileRead(source: Source, entry: SourceEntry): InvalidArgumentError {
  const name = [source.path, entry.rel].filter(Boolean).join('/') || '.'
  return new InvalidArgumentError(`build source ${name} changed size while the build read it (${entry.size} bytes when selected); build again once nothing writes to it`)
}
