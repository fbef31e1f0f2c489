/**
 * Tar archives of container paths (Docker's GET / PUT /containers/{id}/archive).
 *
 * getArchive walks the path with the same fd-relative, never-following walk
 * as copies. putArchive treats the archive as hostile: entries with `..`
 * components or absolute names, device nodes, and hard links to anything but
 * an earlier entry are refused (EUNSAFE); symlinks are created as given (they
 * only ever resolve inside the container's root) and never followed while
 * extracting. The archive is first extracted into a hidden staging directory
 * inside the target directory and then moved into place with renames, so a
 * bad archive or a broken stream leaves the target untouched.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { PassThrough, Readable, type Transform, type Writable } from 'node:stream'
import * as zlib from 'node:zlib'
import * as tar from 'tar-stream'
import { SyscallError } from '../errors'
import { checkUserId } from '../util/user-id'
import {
  O_DIRECTORY,
  O_NOFOLLOW,
  O_PATH,
  RESOLVE_BENEATH,
  RESOLVE_NO_MAGICLINKS,
  RESOLVE_NO_SYMLINKS,
  openat2,
} from '../sys/libc'
import {
  AT_EMPTY_PATH,
  AT_SYMLINK_NOFOLLOW,
  O_CREAT,
  O_EXCL,
  O_RDONLY,
  O_WRONLY,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  close,
  fstatat,
  linkat,
  listdir,
  mkdirat,
  fgetxattr,
  mknodat,
  openat,
  openRegular,
  readlinkat,
  setMeta,
  symlinkat,
  nameStr,
  type Name,
  type RawStat,
} from '../sys/fsops'
import { createZstdDecompress, zstdMagic } from './zstd'
import { fitsUstar, paxEntry, PaxScanner, type PaxRecords } from './pax'
import { decodeName, encodeName, hasRawBytes } from '../sys/byte-names'
import { majorOf, minorOf } from '../sys/device-number'
import { copyXattr, layerXattr, readXattrs, writeXattrs, type Xattrs } from './xattrs'
import { DirNonDirError, NotADirectoryError, PathNotFoundError, UnsafeEntryError } from './errors'
import {
  closeSide,
  containerSide,
  isDir,
  lstatAt,
  mapWriteError,
  openInMaybe,
  parsePath,
  resolveInScope,
  type Side,
} from './resolve'
import { mtimeOf, openPath, pathStatOf, type PathStat } from './stat'
import { checkMergeWritable, mergeInto, removeTree, removeTreeQuietly, restoreMtime, tempName } from './tree'

export type { PathStat }

const CONFINED = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS

/**
 * A tar stream of a container path and the path's stat. The archive's top
 * entry is the path's last component ("etc", "etc/hosts", ...); a path ending
 * in "/." (or the root) gives the directory's contents. A final symlink is
 * archived as the link itself unless the path ends in "/".
 */
export async function getArchive(root: string, p: string): Promise<{ stream: Readable; stat: PathStat }> {
  const side = containerSide(root)
  let o: ReturnType<typeof openPath>
  let parsed: ReturnType<typeof parsePath>
  try {
    parsed = parsePath(side, p)
    o = openPath(side, parsed)
  } catch (err) {
    closeSide(side)
    throw err
  }
  const stat = pathStatOf(side, parsed, o.stat)
  const pack = tar.pack()
  const contents = isDir(o.stat) && (parsed.dotSuffix || parsed.base === '')
  const top = parsed.base === '' ? '.' : parsed.base
  const walker = new ArchiveWalker(pack)
  ;(async () => {
    try {
      if (contents) {
        const dfd = openDir(o.dirfd, o.name)
        try {
          for (const e of listdir(dfd)) await walker.add(dfd, e.name, nameStr(e.name))
        } finally {
          close(dfd)
        }
      } else await walker.add(o.dirfd, o.name, top)
      pack.finalize()
    } catch (err) {
      pack.destroy(err as Error)
    } finally {
      close(o.dirfd)
      closeSide(side)
    }
  })()
  return { stream: toNodeReadable(pack), stat }
}

/** A Node Readable over tar-stream's (streamx) pack, with backpressure; destroying it stops the walk. */
export function toNodeReadable(pack: tar.Pack): Readable {
  const out = new Readable({
    read() {
      pack.resume()
    },
    destroy(err, cb) {
      pack.destroy()
      cb(err)
    },
  })
  pack.on('data', (chunk: unknown) => {
    if (!out.push(chunk)) pack.pause()
  })
  pack.on('end', () => out.push(null))
  pack.on('error', (err: Error) => out.destroy(err))
  return out
}

export function openDir(dirfd: number, name: Name): number {
  return name === '' ? openat(dirfd, '.', O_RDONLY | O_DIRECTORY) : openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
}

function drained(w: { once(ev: 'drain', fn: () => void): unknown }): Promise<void> {
  return new Promise((resolve) => w.once('drain', resolve))
}

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

/** Overlay's marks of an opaque directory (trusted.* for root-mounted overlays, user.* with userxattr). */
const OPAQUE_XATTRS = ['trusted.overlay.opaque', 'user.overlay.opaque']

/**
 * Walks a tree into a tar pack without following symlinks. In `layer` mode
 * (an overlay upper dir to an OCI layer) entries are sorted, whiteouts (char
 * devices 0/0) become `.wh.<name>` files and opaque directories get a
 * `.wh..wh..opq` entry. Otherwise (docker cp) the only xattr archived is
 * security.capability, as in Docker.
 */
export class ArchiveWalker {
  private readonly links = new Map<string, string>()
  /** Which xattrs go into the archive: a layer's, or (docker cp) file capabilities only. */
  private readonly keepXattr: (name: string) => boolean
  constructor(
    private readonly pack: tar.Pack,
    private readonly layer = false,
  ) {
    this.keepXattr = layer ? layerXattr : copyXattr
  }

  /** The entries of a dir fd, sorted in layer mode (reproducible digests). */
  entries(dfd: number) {
    const list = listdir(dfd)
    return this.layer ? list.sort((a, b) => Buffer.compare(encodeName(nameStr(a.name)), encodeName(nameStr(b.name)))) : list
  }

  async add(dirfd: number, name: Name, entryName: string, retried = false): Promise<void> {
    const st = lstatAt(dirfd, name)
    if (!st) return
    const base = { name: entryName, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: mtimeOf(st) }
    switch (st.mode & S_IFMT) {
      case S_IFDIR: {
        let dfd: number
        try {
          dfd = openDir(dirfd, name)
        } catch (err) {
          // Swapped for a non-directory since the lstat: archive what is there now, once.
          if (err instanceof SyscallError && (err.errno === 'ELOOP' || err.errno === 'ENOTDIR' || err.errno === 'ENOENT')) return retried ? undefined : this.add(dirfd, name, entryName, true)
          throw err
        }
        try {
          await entryWritten(this.pack, { ...base, name: `${entryName}/`, type: 'directory' }, undefined, readXattrs(dfd, this.keepXattr))
          if (this.layer && OPAQUE_XATTRS.some((x) => fgetxattr(dfd, x) === 'y'))
            await entryWritten(this.pack, { name: `${entryName}/.wh..wh..opq`, mode: 0, uid: 0, gid: 0, mtime: base.mtime, type: 'file', size: 0 })
          for (const e of this.entries(dfd)) await this.add(dfd, e.name, `${entryName}/${nameStr(e.name)}`)
        } finally {
          close(dfd)
        }
        return
      }
      case S_IFREG: {
        if (st.nlink > 1) {
          const key = `${st.dev}:${st.ino}`
          const first = this.links.get(key)
          if (first !== undefined) return entryWritten(this.pack, { ...base, type: 'link', linkname: first, size: 0 })
          this.links.set(key, entryName)
        }
        let fd: number
        let fst: RawStat
        try {
          ;({ fd, stat: fst } = openRegular(dirfd, name, O_RDONLY))
        } catch (err) {
          // Swapped for something else since the lstat: skip it.
          if (err instanceof SyscallError && (err.errno === 'ELOOP' || err.errno === 'ENOENT' || err.errno === 'EINVAL')) return
          throw err
        }
        // Exactly the size in the header, padded with zeros if the file shrank meanwhile.
        let xattrs: Xattrs | undefined
        try {
          xattrs = readXattrs(fd, this.keepXattr)
        } catch (err) {
          close(fd)
          throw err
        }
        const body = readExactly(fd, fst.size)
        return entryWritten(this.pack, { ...base, type: 'file', size: fst.size }, body, xattrs)
      }
      case S_IFLNK:
        return entryWritten(this.pack, { ...base, type: 'symlink', linkname: readlinkat(dirfd, name) })
      case S_IFIFO:
        return entryWritten(this.pack, { ...base, type: 'fifo' })
      case S_IFCHR:
      case S_IFBLK:
        if (this.layer && (st.mode & S_IFMT) === S_IFCHR && st.rdev === 0) {
          const slash = entryName.lastIndexOf('/')
          const wh = `${entryName.slice(0, slash + 1)}.wh.${entryName.slice(slash + 1)}`
          return entryWritten(this.pack, { name: wh, mode: 0, uid: 0, gid: 0, mtime: base.mtime, type: 'file', size: 0 })
        }
        return entryWritten(this.pack, {
          ...base,
          type: (st.mode & S_IFMT) === S_IFCHR ? 'character-device' : 'block-device',
          devmajor: majorOf(st.rdev),
          devminor: minorOf(st.rdev),
        })
      default:
        return
    }
  }
}

const readAt = (fd: number, buf: Buffer, pos: number) =>
  new Promise<number>((resolve, reject) => fs.read(fd, buf, 0, buf.length, pos, (err, n) => (err ? reject(err) : resolve(n))))

/** Reads exactly `size` bytes of `fd` (zero-padded if the file shrank meanwhile), then closes it. */
async function* readExactly(fd: number, size: number): AsyncGenerator<Buffer> {
  try {
    let done = 0
    while (done < size) {
      const buf = Buffer.allocUnsafe(Math.min(1 << 20, size - done))
      const n = await readAt(fd, buf, done)
      if (n === 0) {
        yield Buffer.alloc(size - done)
        return
      }
      done += n
      yield buf.subarray(0, n)
    }
  } finally {
    close(fd)
  }
}

/** Options of `Container.putArchive`. */
export interface PutArchiveOptions {
  /** Refuse to replace a directory with a non-directory or the reverse (Docker's noOverwriteDirNonDir). */
  noOverwriteDirNonDir?: boolean
  /** Owner for every extracted entry instead of the archive's uid/gid (Docker's copyUIDGID inverse). */
  chown?: {
    /** Owner uid, as numbered inside the container. */
    uid: number
    /** Owner gid, as numbered inside the container. */
    gid: number
  }
  /** Cancels the extraction, checked between entries; the archive is staged first, so a cancelled one changes nothing. */
  signal?: AbortSignal
}

/** Splits and checks an archive name; returns its components, [] for the top dir itself. */
export function entryParts(name: string, what: string): string[] {
  if (name.startsWith('/')) throw new UnsafeEntryError(`archive entry ${JSON.stringify(name)}`, `${what} is an absolute path; archives must hold relative names`)
  const parts = name.split('/').filter((c) => c !== '' && c !== '.')
  if (parts.includes('..')) throw new UnsafeEntryError(`archive entry ${JSON.stringify(name)}`, `${what} contains "..", which could escape the target directory`)
  if (name.includes('\0')) throw new UnsafeEntryError(`archive entry ${JSON.stringify(name)}`, `${what} contains a NUL byte`)
  return parts
}

/**
 * Extracts a tar (optionally gzip-compressed) into the existing container
 * directory `dir`. Existing directories are merged, other existing entries
 * replaced. Directories implied by entry names but not in the archive follow
 * existing symlinks inside the container (e.g. lib -> usr/lib); directories
 * in the archive replace a symlink, as with Docker. Extended attributes in
 * the archive's PAX records are set as Docker sets them (overlay's own marks
 * excepted, see files/xattrs.ts).
 */
export async function putArchive(root: string, dir: string, input: Readable | Buffer, opts: PutArchiveOptions = {}): Promise<void> {
  if (opts.chown) {
    checkUserId(opts.chown.uid, 'putArchive chown.uid')
    checkUserId(opts.chown.gid, 'putArchive chown.gid')
  }
  const side = containerSide(root)
  try {
    const p = parsePath(side, dir)
    const dirPath = resolveInScope(side, p.clean)
    const dirfd = openInMaybe(side, dirPath, O_PATH)
    if (dirfd === undefined) throw new PathNotFoundError(side.display(dir), 'path-missing')
    try {
      if (!isDir(fstatat(dirfd, '', AT_EMPTY_PATH))) throw new NotADirectoryError(side.display(dir), 'dest-not-dir')
      await extractInto(side, dirfd, dirPath, input, opts)
    } finally {
      close(dirfd)
    }
  } finally {
    closeSide(side)
  }
}

async function extractInto(side: Side, dirfd: number, dirPath: string, input: Readable | Buffer, opts: PutArchiveOptions): Promise<void> {
  const where = side.display(dirPath)
  const stage = tempName('.mc-put-')
  const before = lstatAt(dirfd, '')!
  try {
    mkdirat(dirfd, stage, 0o700)
  } catch (err) {
    throw mapWriteError(err, where)
  }
  let stagefd = -1
  let merging = false
  const implicit = new Set<string>()
  const source = decompressed(Buffer.isBuffer(input) ? Readable.from([input]) : input)
  try {
    stagefd = openat(dirfd, stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
    const fd = stagefd
    await extractEach(source, fd, CONFINED, (entry, dirs) => extractEntry(fd, entry, opts, implicit, dirs), { ...opts, xattrs: true })
    opts.signal?.throwIfAborted()
    const landing = openat(dirfd, '.', O_RDONLY | O_DIRECTORY)
    try {
      checkMergeWritable(stagefd, landing, (rel) => side.display(path.posix.join(dirPath, rel)))
      merging = true
      await mergeInto(stagefd, landing, {
        owner: true,
        noOverwriteDirNonDir: opts.noOverwriteDirNonDir,
        describe: (rel) => side.display(path.posix.join(dirPath, rel)),
        dirNonDir: (rel) => new DirNonDirError(side.display(path.posix.join(dirPath, rel))),
        keepDestMeta: (rel) => implicit.has(rel),
        followLinkDir: (rel) => {
          if (!implicit.has(rel)) return undefined
          return openInMaybe(side, path.posix.join(dirPath, rel), O_PATH | O_DIRECTORY)
        },
      })
    } finally {
      close(landing)
    }
  } catch (err) {
    source.destroy() // stops reading the caller's stream
    if (stagefd >= 0) close(stagefd)
    stagefd = -1
    removeTreeQuietly(dirfd, stage)
    if (!merging) restoreMtime(dirfd, before)
    throw mapWriteError(err, where)
  } finally {
    if (stagefd >= 0) close(stagefd)
    removeTreeQuietly(dirfd, stage)
  }
}

/** An entry's header as read: tar-stream's, with the offset of its data and (when asked for) its xattrs. */
export type EntryHeader = tar.Header & { byteOffset?: number; xattrs?: Xattrs; pax?: Record<string, string> }

/** One entry of an archive being read: its header, and its bytes as an async iterable. */
export type TarEntry = AsyncIterable<unknown> & { header: EntryHeader }

/**
 * Reads a tar entry by entry into `dirfd` with `onEntry`, which lists the
 * directories it made; their metadata is set last, once adding their
 * content has stopped changing their mtimes. `owner` overrides the
 * archive's uid/gid.
 */
export async function extractEach(
  source: Readable,
  dirfd: number,
  resolve: number,
  onEntry: (entry: TarEntry, dirs: [string, EntryHeader][]) => Promise<void>,
  opts: { signal?: AbortSignal; chown?: { uid: number; gid: number }; xattrs?: boolean } = {},
): Promise<void> {
  const dirs: [string, EntryHeader][] = []
  // Names as bytes (latin1 maps each byte to one character), PAX ones from the scanner's raw records.
  // tar-stream takes filenameEncoding; its typings (streamx options) do not list it.
  const extract = tar.extract({ filenameEncoding: 'latin1' } as Parameters<typeof tar.extract>[0])
  const scanner = new PaxScanner()
  const feeding = feed(source, extract, scanner)
  feeding.catch(() => {})
  for await (const entry of extract as AsyncIterable<TarEntry>) {
    opts.signal?.throwIfAborted()
    bytesNamed(entry.header, scanner.take(entry.header.byteOffset), opts.xattrs)
    if (!opts.chown) ownerIds(entry.header)
    await onEntry(entry, dirs)
  }
  await feeding
  for (const [rel, h] of dirs.reverse()) {
    const fd = openat2(dirfd, rel, O_RDONLY | O_DIRECTORY, 0, resolve)
    try {
      setMeta(fd, '', { uid: opts.chown?.uid ?? h.uid ?? 0, gid: opts.chown?.gid ?? h.gid ?? 0, mode: (h.mode ?? 0o755) & 0o7777, mtime: h.mtime ?? new Date() })
      writeXattrs(fd, h.xattrs, rel)
    } finally {
      close(fd)
    }
  }
}

/** Gives a header read with latin1 names its names as ./byte-names strings (PAX ones from `raw`), and its xattrs when `xattrs`. */
function bytesNamed(h: EntryHeader, raw: PaxRecords | undefined, xattrs: boolean | undefined): void {
  h.name = decodeName(raw?.path ?? Buffer.from(h.name, 'latin1'))
  if (h.linkname) h.linkname = decodeName(raw?.linkpath ?? Buffer.from(h.linkname, 'latin1'))
  if (xattrs) h.xattrs = raw?.xattrs
}

/** The largest id a file can be owned by: 2^32 - 1 is chown's "leave unchanged", and larger ones do not fit the kernel's 32 bits. */
const maxOwnerId = 0xfffffffe

/**
 * Sets the entry's uid and gid from its PAX records when it has them (as Go's
 * archive/tar, and so Docker, reads them; tar-stream leaves them out, so a
 * PAX uid above the header field's 2097151 was lost and the file owned by
 * root). An id the kernel cannot take is EUNSAFE: passed on, 4294967296 would
 * be truncated to 0 by the 32-bit chown and make the file root's, which is
 * what Docker does (its Lchown passes the 64-bit id to the kernel).
 */
function ownerIds(h: EntryHeader): void {
  for (const key of ['uid', 'gid'] as const) {
    const given = h.pax?.[key] ?? h[key] ?? 0
    const id = typeof given === 'number' ? given : /^\d+$/.test(given) ? Number(given) : NaN
    if (!Number.isSafeInteger(id) || id < 0 || id > maxOwnerId)
      throw new UnsafeEntryError(`archive entry ${JSON.stringify(h.name)}`, `its ${key} ${given} is not an id a file can have (0-${maxOwnerId}); a 32-bit chown would turn 4294967296 into 0 (root)`)
    h[key] = id
  }
}

/** Writes `src` into the extractor with backpressure (and first into `scanner`); destroys it on a source error. */
export async function feed(src: Readable, extract: tar.Extract, scanner?: PaxScanner): Promise<void> {
  try {
    for await (const chunk of src) {
      scanner?.write(chunk)
      if (!extract.write(chunk)) await drained(extract as never)
    }
    ;(extract as unknown as { end(): void }).end()
  } catch (err) {
    extract.destroy(err as Error)
    throw err
  }
}

/**
 * Files up to this size are written synchronously: a small file's bytes cost
 * less to copy into the page cache here than a threadpool round trip (a
 * futex, an eventfd write, a callback), a fifth of the CPU of unpacking a
 * layer of 5,000 small files. Larger files keep the threadpool, whose writes
 * overlap the tar parsing on this thread (blocking writes for every file made
 * image loads slower, 5f270f9) and never hold a server's event loop for long.
 */
const SYNC_FILE_MAX = 64 << 10

/** Writes all of `buf` at the file position of `fd`, blocking. */
export function writeAllSync(fd: number, buf: Buffer): void {
  for (let off = 0; off < buf.length; ) off += fs.writeSync(fd, buf, off, buf.length - off)
}

export const writeAll = (fd: number, buf: Buffer) =>
  new Promise<void>((resolve, reject) => {
    let off = 0
    const next = () =>
      fs.write(fd, buf, off, buf.length - off, null, (err, n) => {
        if (err) return reject(err)
        off += n
        if (off < buf.length) next()
        else resolve()
      })
    next()
  })

/**
 * Output chunks of gunzip: zlib's default 16 KiB means one threadpool round
 * trip, one callback and (through tar-stream, which slices entry data from
 * its input) one write(2) per 16 KiB of a layer's files; 256 KiB cuts those
 * 16-fold and measured ~20% off a 200 MB pull, for 256 KiB of memory per stream.
 */
const GUNZIP_CHUNK = 256 << 10

/** The decompressor a stream's first bytes call for: gzip, zstd, or none (a plain tar). */
function decompressorFor(head: Buffer): Transform | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return zlib.createGunzip({ chunkSize: GUNZIP_CHUNK })
  if (head.subarray(0, zstdMagic.length).equals(zstdMagic)) return createZstdDecompress()
  return undefined
}

/** Decompresses the stream when it starts with the gzip or zstd magic; passes it through otherwise. */
export function decompressed(src: Readable): Readable {
  const out = new PassThrough()
  let head: Buffer | undefined = Buffer.alloc(0)
  let target: Writable = out
  src.on('error', (err) => out.destroy(err))
  const write = (chunk: Buffer) => {
    if (!target.write(chunk)) {
      src.pause()
      target.once('drain', () => src.resume())
    }
  }
  /** Picks the decompressor once enough bytes for every magic are in (or the stream ended). */
  const decide = () => {
    const decoder = decompressorFor(head!)
    if (decoder) {
      decoder.on('error', (err) => out.destroy(err))
      decoder.pipe(out)
      target = decoder
    }
    const first = head!
    head = undefined
    if (first.length) write(first)
  }
  src.on('data', (chunk: Buffer) => {
    if (!head) return write(chunk)
    head = Buffer.concat([head, chunk])
    if (head.length >= zstdMagic.length) decide()
  })
  src.on('end', () => {
    if (head) decide()
    target.end()
  })
  out.on('close', () => {
    if (!src.readableEnded) src.destroy()
  })
  return out
}

/** Creates (implicitly, mode 0755) the directories of `parts` below stagefd; returns an O_PATH fd of the last. */
function parentDir(stagefd: number, parts: string[], implicit: Set<string>, entry: string): number {
  for (let i = 0; i < parts.length; i++) {
    const rel = parts.slice(0, i + 1).join('/')
    const pfd = i === 0 ? -1 : openat2(stagefd, parts.slice(0, i).join('/'), O_PATH | O_DIRECTORY, 0, CONFINED)
    const at = pfd < 0 ? stagefd : pfd
    try {
      const st = lstatAt(at, parts[i])
      if (!st) {
        mkdirat(at, parts[i], 0o755)
        implicit.add(rel)
      } else if (!isDir(st)) throw new UnsafeEntryError(`archive entry ${JSON.stringify(entry)}`, `its parent ${rel} is not a directory in the archive (entries are never written through symlinks)`)
    } finally {
      if (pfd >= 0) close(pfd)
    }
  }
  return openat2(stagefd, parts.length ? parts.join('/') : '.', O_PATH | O_DIRECTORY, 0, CONFINED)
}

/** Entry types written out by the extractors; devices are handled (refused or skipped) by each caller. */
export const writableEntryTypes = new Set(['file', 'contiguous-file', 'directory', 'symlink', 'link', 'fifo'])

/** Where an entry is written, and what it is called in errors. */
export interface EntryTarget {
  /** The directory the entry's parent was resolved in (hard link targets are resolved there too). */
  rootfd: number
  /** openat2 resolve flags that confine hard link targets to `rootfd`. */
  resolve: number
  /** Open parent directory of the entry, and its last name component. */
  pfd: number
  name: string
  /** "archive entry" or "layer entry", for error messages. */
  label: string
}

/**
 * Writes one tar entry (a type in {@link writableEntryTypes}, or a device
 * node when the caller allows them) as `name` in `pfd`, which must not
 * exist; a directory only has its metadata deferred (pushed onto `dirs`).
 * Hard links must point at an earlier entry. Xattrs (when read) are set
 * after the owner and mode, since chown clears security.capability.
 */
export async function writeEntry(t: EntryTarget, entry: TarEntry, meta: { uid: number; gid: number; mtime: Date; mode: number }, rel: string, dirs: [string, EntryHeader][]): Promise<void> {
  const h = entry.header
  const drain = async () => {
    for await (const _ of entry);
  }
  const { pfd, name } = t
  switch (h.type ?? 'file') {
    case 'directory':
      mkdirat(pfd, name, 0o700)
      dirs.push([rel, h])
      return drain()
    case 'file':
    case 'contiguous-file': {
      const fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)
      try {
        const small = (h.size ?? 0) <= SYNC_FILE_MAX
        for await (const chunk of entry) {
          if (small) writeAllSync(fd, chunk as Buffer)
          else await writeAll(fd, chunk as Buffer)
        }
        setMeta(fd, '', meta)
        writeXattrs(fd, h.xattrs, rel)
      } finally {
        close(fd)
      }
      return
    }
    case 'symlink':
      symlinkat(h.linkname ?? '', pfd, name)
      setMeta(pfd, name, { uid: meta.uid, gid: meta.gid, mtime: meta.mtime })
      return drain()
    case 'fifo':
      mknodat(pfd, name, S_IFIFO | 0o600, 0, 0)
      setMeta(pfd, name, meta)
      return drain()
    case 'link':
      linkToEarlierEntry(t, h)
      return drain()
    case 'character-device':
    case 'block-device':
      mknodat(pfd, name, (h.type === 'character-device' ? S_IFCHR : S_IFBLK) | 0o600, h.devmajor ?? 0, h.devminor ?? 0)
      setMeta(pfd, name, meta)
      return drain()
  }
}

function linkToEarlierEntry(t: EntryTarget, h: tar.Header): void {
  const what = `${t.label} ${JSON.stringify(h.name)}`
  const target = entryParts(h.linkname ?? '', 'the hard link target')
  if (target.length === 0) throw new UnsafeEntryError(what, 'hard link to the top directory')
  let lfd: number
  try {
    lfd = openat2(t.rootfd, target.length > 1 ? target.slice(0, -1).join('/') : '.', O_PATH | O_DIRECTORY, 0, t.resolve)
  } catch {
    throw new UnsafeEntryError(what, `hard link target ${h.linkname} is not an earlier entry`)
  }
  try {
    const st: RawStat | undefined = fstatat(lfd, target[target.length - 1], AT_SYMLINK_NOFOLLOW, true)
    if (!st || isDir(st)) throw new UnsafeEntryError(what, `hard link target ${h.linkname} is not an earlier file entry`)
    linkat(lfd, target[target.length - 1], t.pfd, t.name, 0)
  } finally {
    close(lfd)
  }
}

async function extractEntry(stagefd: number, entry: TarEntry, opts: PutArchiveOptions, implicit: Set<string>, dirs: [string, EntryHeader][]): Promise<void> {
  const h = entry.header
  const type = h.type ?? 'file'
  const drain = async () => {
    for await (const _ of entry);
  }
  const parts = entryParts(h.name, 'the name')
  if (type === 'character-device' || type === 'block-device')
    throw new UnsafeEntryError(`archive entry ${JSON.stringify(h.name)}`, 'device nodes are not extracted into containers')
  if (!writableEntryTypes.has(type)) return drain()
  if (parts.length === 0) return drain() // "." itself: the target dir keeps its own metadata
  const rel = parts.join('/')
  const name = parts[parts.length - 1]
  const pfd = parentDir(stagefd, parts.slice(0, -1), implicit, h.name)
  try {
    const existing = lstatAt(pfd, name)
    if (existing) {
      // A later entry of the same name wins, as with tar.
      if (type === 'directory' && isDir(existing)) {
        implicit.delete(rel)
        dirs.push([rel, h])
        return drain()
      }
      removeTree(pfd, name)
      implicit.delete(rel)
    }
    const meta = { uid: opts.chown?.uid ?? h.uid ?? 0, gid: opts.chown?.gid ?? h.gid ?? 0, mtime: h.mtime ?? new Date(), mode: (h.mode ?? 0o644) & 0o7777 }
    await writeEntry({ rootfd: stagefd, resolve: CONFINED, pfd, name, label: 'archive entry' }, entry, meta, rel, dirs)
  } finally {
    close(pfd)
  }
}
