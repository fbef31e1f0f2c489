/**
 * Binary-safe PAX records: extended attributes (`SCHILY.xattr.<name>`, as
 * GNU tar, Go's archive/tar and so Docker write them) and the `path` and
 * `linkpath` of names that are not UTF-8 (Go's archive/tar, so Docker,
 * writes and reads them as raw bytes).
 *
 * tar-stream decodes PAX values as UTF-8 text and encodes them from strings,
 * which destroys binary values such as `security.capability` and turns a
 * name's `\xff` into U+FFFD. So reading watches the raw bytes fed to
 * tar-stream and keeps each entry's records as Buffers, keyed by the offset
 * of the entry's data (tar-stream reports the same offset as
 * `header.byteOffset`); writing emits the PAX header entry itself, just
 * before the entry it describes.
 *
 * @module
 */
import type { Xattrs } from './xattrs'

const BLOCK = 512
/** tar-stream refuses longer extended headers; past one the scan stops (the extraction fails anyway). */
const MAX_HEADER = 1 << 20
const XATTR = 'SCHILY.xattr.'

const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK

/** A tar numeric field: octal text, or base-256 when the high bit of its first byte is set. */
function numeric(block: Buffer, off: number, len: number): number {
  if (block[off] & 0x80) {
    let n = block[off] & 0x7f
    for (let i = off + 1; i < off + len; i++) n = n * 256 + block[i]
    return n
  }
  const text = block.toString('latin1', off, off + len).replace(/[\0 ]+$/, '').trim()
  return text ? parseInt(text, 8) || 0 : 0
}

/** The raw records of an entry's PAX header that tar-stream would decode as text. */
export interface PaxRecords {
  xattrs?: Xattrs
  /** The entry's name, as bytes. */
  path?: Buffer
  /** Its link target, as bytes. */
  linkpath?: Buffer
}

/** The records of an extended header that matter for scanning: the next entry's size, its xattrs and names. */
function parseRecords(buf: Buffer): PaxRecords & { size?: number } {
  const out: PaxRecords & { size?: number } = {}
  let pos = 0
  while (pos < buf.length) {
    const space = buf.indexOf(0x20, pos)
    if (space < 0) break
    const len = Number(buf.toString('latin1', pos, space))
    if (!Number.isInteger(len) || len <= space - pos + 1 || pos + len > buf.length) break
    const record = buf.subarray(space + 1, pos + len - 1) // without the trailing newline
    const eq = record.indexOf(0x3d)
    if (eq > 0) {
      const key = record.toString('utf8', 0, eq)
      if (key === 'size') out.size = Number(record.toString('latin1', eq + 1))
      else if (key === 'path' || key === 'linkpath') out[key] = Buffer.from(record.subarray(eq + 1))
      else if (key.startsWith(XATTR) && key.length > XATTR.length) (out.xattrs ??= new Map()).set(key.slice(XATTR.length), Buffer.from(record.subarray(eq + 1)))
    }
    pos += len
  }
  return out
}

/**
 * Follows a tar stream block by block (fed the same bytes as tar-stream,
 * before it) and keeps the raw records of each entry that has a PAX header.
 */
export class PaxScanner {
  private offset = 0
  private skip = 0
  private parts: Buffer[] = []
  private have = 0
  private need = BLOCK
  /** Bytes of a PAX header body being collected, or undefined while reading a header block. */
  private paxBody: { size: number; global: boolean } | undefined
  private next: PaxRecords & { size?: number } = {}
  private stopped = false
  private readonly byOffset = new Map<number, PaxRecords>()

  /** Takes (and forgets) the records of the entry whose data starts at `byteOffset`. */
  take(byteOffset: number | undefined): PaxRecords | undefined {
    if (byteOffset === undefined) return undefined
    const found = this.byOffset.get(byteOffset)
    this.byOffset.delete(byteOffset)
    return found
  }

  /** Scans the next bytes of the stream. */
  write(chunk: Buffer): void {
    let pos = 0
    while (pos < chunk.length && !this.stopped) {
      if (this.skip) {
        const n = Math.min(this.skip, chunk.length - pos)
        this.skip -= n
        pos += n
        this.offset += n
        continue
      }
      const n = Math.min(this.need - this.have, chunk.length - pos)
      this.parts.push(chunk.subarray(pos, pos + n))
      this.have += n
      pos += n
      this.offset += n
      if (this.have === this.need) this.consume()
    }
  }

  private consume(): void {
    const buf = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts)
    this.parts = []
    this.have = 0
    if (this.paxBody) {
      const { size, global } = this.paxBody
      this.paxBody = undefined
      // Global headers (type g) are ignored for xattrs: no archiver puts file attributes there.
      if (!global) this.next = parseRecords(buf)
      this.afterBody(size)
      return
    }
    this.header(buf)
  }

  private header(block: Buffer): void {
    this.need = BLOCK
    if (block.every((b) => b === 0)) return // end-of-archive blocks
    const type = String.fromCharCode(block[156])
    const size = numeric(block, 124, 12)
    if (type === 'x' || type === 'g') {
      if (size > MAX_HEADER) this.stopped = true
      else if (size === 0) this.afterBody(0)
      else {
        this.paxBody = { size, global: type === 'g' }
        this.need = size
      }
      return
    }
    if (type === 'L' || type === 'K') {
      this.skip = size + padding(size)
      return
    }
    // An entry: its data starts here (tar-stream's header.byteOffset); directories carry none.
    const { size: paxSize, ...records } = this.next
    this.next = {}
    if (records.xattrs || records.path || records.linkpath) this.byOffset.set(this.offset, records)
    const dataSize = type === '5' ? 0 : paxSize || size
    this.skip = dataSize + padding(dataSize)
  }

  private afterBody(size: number): void {
    this.need = BLOCK
    this.skip = padding(size)
  }
}

/** One PAX record: "<length> <key>=<value>\n", the length counting itself. */
function record(key: string, value: Buffer): Buffer {
  const rest = Buffer.byteLength(key) + value.length + 3
  let digits = String(rest).length
  if (String(rest + digits).length > digits) digits++
  return Buffer.concat([Buffer.from(`${rest + digits} ${key}=`), value, Buffer.from('\n')])
}

/** A ustar header block of a PAX extended header ('x') of `size` bytes. */
function paxHeaderBlock(size: number, mtime: Date): Buffer {
  const block = Buffer.alloc(BLOCK)
  const oct = (n: number, width: number) => `${n.toString(8).padStart(width - 1, '0')}\0`
  block.write('PaxHeader', 0, 'latin1')
  block.write(oct(0o644, 8), 100, 'latin1')
  block.write(oct(0, 8), 108, 'latin1')
  block.write(oct(0, 8), 116, 'latin1')
  block.write(oct(size, 12), 124, 'latin1')
  block.write(oct(Math.max(0, Math.floor(mtime.getTime() / 1000)), 12), 136, 'latin1')
  block.write('x', 156, 'latin1')
  block.write('ustar\x0000', 257, 'latin1')
  block.write(' '.repeat(8), 148, 'latin1')
  const sum = block.reduce((a, b) => a + b, 0)
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1')
  return block
}

/**
 * A whole PAX extended header entry (header block, records, padding) giving
 * the entry's path (and link target) as bytes and its binary xattrs, to
 * precede that entry.
 */
export function paxEntry(records: PaxRecords & { path: Buffer }, mtime: Date): Buffer {
  const { path, linkpath, xattrs = new Map() } = records
  const body = Buffer.concat([record('path', path), ...(linkpath ? [record('linkpath', linkpath)] : []), ...[...xattrs].map(([k, v]) => record(`${XATTR}${k}`, v))])
  return Buffer.concat([paxHeaderBlock(body.length, mtime), body, Buffer.alloc(padding(body.length))])
}

/** Whether tar-stream writes `name` in a plain ustar header (no PAX header of its own, which would hide ours). */
export function fitsUstar(name: string): boolean {
  return Buffer.byteLength(name) === name.length && name.length <= 100
}
