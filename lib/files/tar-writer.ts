/**
 * Writing entries into a tar pack: each with its body streamed in with
 * backpressure, and a PAX header of its own where tar-stream cannot write
 * one (binary xattrs, names that are not UTF-8).
 *
 * @module
 */
import type * as tar from 'tar-stream'
import { fitsUstar, paxEntry } from './pax'
import { encodeName, hasRawBytes } from '../sys/byte-names'
import type { Xattrs } from './xattrs'
import { drained } from './tar-streams'

/** Rejects once the pack is closed (the consumer destroyed the stream): the walk then stops and closes its fds. */
const packClosed = new WeakMap<tar.Pack, Promise<never>>()
function closedPromise(pack: tar.Pack): Promise<never> {
  let p = packClosed.get(pack)
  if (!p) {
    p = new Promise<never>((_, reject) => pack.once('close', () => reject(new Error('archive stream closed by its reader'))))
    p.catch(() => {})
    packClosed.set(pack, p)
  }
  return p
}

/**
 * The PAX header an entry needs that tar-stream cannot write (its PAX
 * support is text-only): for binary xattrs, or a name or link target that
 * is not UTF-8 (raw bytes, as Go's archive/tar writes them). The entry's
 * own header then gets stand-in names where its names need PAX, so that
 * one PAX header describes it (readers take only the last one before an entry).
 */
function ownPax(header: Partial<tar.Header> & { name: string }, xattrs: Xattrs | undefined): { pax: Buffer; header: Partial<tar.Header> & { name: string } } | undefined {
  const { name, linkname } = header
  if (!xattrs && !hasRawBytes(name) && !(linkname && hasRawBytes(linkname))) return undefined
  const pax = paxEntry({ path: encodeName(name), linkpath: linkname ? encodeName(linkname) : undefined, xattrs }, header.mtime ?? new Date())
  const standIn = (n: string) => (fitsUstar(n) ? n : 'PaxHeader')
  return { pax, header: { ...header, name: standIn(name), ...(linkname ? { linkname: standIn(linkname) } : {}) } }
}

/** Adds one entry to the pack (after a PAX header of its xattrs or non-UTF-8 names), streaming `body` into it with backpressure. */
export async function entryWritten(pack: tar.Pack, header: Partial<tar.Header> & { name: string }, body?: AsyncIterable<Buffer>, xattrs?: Xattrs): Promise<void> {
  const closed = closedPromise(pack)
  const own = ownPax(header, xattrs)
  if (own) {
    pack.push(own.pax)
    header = own.header
  }
  let sink!: ReturnType<tar.Pack['entry']>
  const done = new Promise<void>((resolve, reject) => {
    sink = pack.entry(header, (err) => (err ? reject(err) : resolve()))
  })
  done.catch(() => {})
  sink.on('error', () => {}) // reported through `done`
  if (body) {
    try {
      for await (const chunk of body) if (!sink.write(chunk)) await Promise.race([drained(sink as never), closed])
    } catch (err) {
      sink.destroy(err as Error)
      throw err
    }
  }
  ;(sink as unknown as { end(): void }).end()
  return Promise.race([done, closed])
}
