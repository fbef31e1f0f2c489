/**
 * Extraction primitives shared by putArchive and layer unpacking: reading
 * an archive entry by entry (names as raw bytes, owners from PAX records),
 * checking entry names, and writing one entry below an open directory.
 * Directory metadata is set last, once their content stopped changing it.
 *
 * @module
 */
import type { Readable } from 'node:stream'
import * as tar from 'tar-stream'
import { O_DIRECTORY, O_NOFOLLOW, O_PATH, openat2 } from '../sys/libc'
import {
  AT_SYMLINK_NOFOLLOW,
  O_CREAT,
  O_EXCL,
  O_RDONLY,
  O_WRONLY,
  S_IFBLK,
  S_IFCHR,
  S_IFIFO,
  close,
  fstatat,
  linkat,
  mkdirat,
  mknodat,
  openat,
  setMeta,
  symlinkat,
  type RawStat,
} from '../sys/fsops'
import { PaxScanner, type PaxRecords } from './pax'
import { decodeName } from '../sys/byte-names'
import { writeXattrs, type Xattrs } from './xattrs'
import { UnsafeEntryError } from './errors'
import { isDir, lstatAt } from './resolve'
import { removeTree } from './tree'
import { feed, writeAll, writeAllSync } from './tar-streams'
import { PathChain } from './path-chain'
import type { PendingFileWrites } from './pending-file-writes'

/** Splits and checks an archive name; returns its components, [] for the top dir itself. */
export function entryParts(name: string, what: string): string[] {
  if (name.startsWith('/')) throw new UnsafeEntryError(`archive entry ${JSON.stringify(name)}`, `${what} is an absolute path; archives must hold relative names`)
  const parts = name.split('/').filter((c) => c !== '' && c !== '.')
  if (parts.includes('..')) throw new UnsafeEntryError(`archive entry ${JSON.stringify(name)}`, `${what} contains "..", which could escape the target directory`)
  if (name.includes('\0')) throw new UnsafeEntryError(`archive entry ${JSON.stringify(name)}`, `${what} contains a NUL byte`)
  return parts
}

/** An entry's header as read: tar-stream's, with the offset of its data and (when asked for) its xattrs. */
export type EntryHeader = tar.Header & { byteOffset?: number; xattrs?: Xattrs; pax?: Record<string, string> }

/** One entry of an archive being read: its header, and its bytes as an async iterable. */
export type TarEntry = AsyncIterable<unknown> & { header: EntryHeader }

/**
 * Reads a tar entry by entry into `dirfd` with `onEntry`, which lists the
 * directories it made; their metadata is set last, once adding their
 * content has stopped changing their mtimes (after `settle`, which waits for
 * writes `onEntry` left in flight). `chown` overrides the archive's uid/gid.
 */
export async function extractEach(
  source: Readable,
  dirfd: number,
  resolve: number,
  onEntry: (entry: TarEntry, dirs: [string, EntryHeader][]) => Promise<void>,
  opts: { signal?: AbortSignal; chown?: { uid: number; gid: number }; xattrs?: boolean; settle?: () => Promise<void> } = {},
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
  await finishDirs(dirfd, resolve, dirs, opts)
}

/**
 * The end of an extraction into `dirfd` of entries that made `dirs` (in tree order): once the file
 * writes still in flight (`settle`) stopped changing their directories' mtimes, the directories'
 * metadata is set, deepest first.
 */
export async function finishDirs(dirfd: number, resolve: number, dirs: [string, EntryHeader][], opts: { chown?: { uid: number; gid: number }; settle?: () => Promise<void> } = {}): Promise<void> {
  await opts.settle?.()
  setDirMeta(dirfd, resolve, [...dirs].reverse(), opts.chown)
}

/**
 * Sets the metadata of the directories extracted, deepest first. Each is
 * reached from the last one (they come in tree order), not resolved from
 * `dirfd`: linear in a deep chain, and no path is ever longer than a name.
 */
function setDirMeta(dirfd: number, resolve: number, dirs: [string, EntryHeader][], chown: { uid: number; gid: number } | undefined): void {
  const chain = new PathChain(dirfd, { flags: O_RDONLY, resolve })
  try {
    for (const [rel, h] of dirs) {
      const fd = chain.open(rel.split('/'))
      setMetaAndXattrs(fd, { uid: chown?.uid ?? h.uid ?? 0, gid: chown?.gid ?? h.gid ?? 0, mode: (h.mode ?? 0o755) & 0o7777, mtime: h.mtime ?? new Date() }, h.xattrs, rel)
    }
  } finally {
    chain.close()
  }
}

/**
 * An opened entry's metadata and attributes: its owner first (chown clears security.capability), then the attributes,
 * then the mode and mtime. A mode without write permission (0444, 0500) would refuse user.* attributes to an owner
 * without DAC override (a rootless runtime's user: a root runtime passes either way), so they go in before it.
 */
function setMetaAndXattrs(fd: number, meta: { uid: number; gid: number; mtime: Date; mode: number }, xattrs: Xattrs | undefined, rel: string): void {
  if (!xattrs?.size) return setMeta(fd, '', meta)
  setMeta(fd, '', { uid: meta.uid, gid: meta.gid })
  writeXattrs(fd, xattrs, rel)
  setMeta(fd, '', { mode: meta.mode, mtime: meta.mtime })
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

/**
 * Files up to this size are written synchronously: a small file's bytes cost
 * less to copy into the page cache here than a threadpool round trip (a
 * futex, an eventfd write, a callback), a fifth of the CPU of unpacking a
 * layer of 5,000 small files. Larger files keep the threadpool, whose writes
 * overlap the tar parsing on this thread (blocking writes for every file made
 * image loads slower, 5f270f9) and never hold a server's event loop for long.
 * A layer's small files go to the threadpool all the same, but whole, create
 * to close in one call and several at once ({@link EntryTarget.deferred}):
 * there the round trip is one per file, and the file's creation leaves this
 * thread too.
 */
const SYNC_FILE_MAX = 64 << 10

/** Whether an entry is a file written whole by one call ({@link EntryTarget.deferred}): small, and without xattrs (set through its fd). */
export function deferrableFile(h: EntryHeader): boolean {
  const type = h.type ?? 'file'
  return (type === 'file' || type === 'contiguous-file') && (h.size ?? 0) <= SYNC_FILE_MAX && !h.xattrs?.size
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
  /** Where a {@link deferrableFile} goes instead of being written here: writes on the threadpool into `pfd`, which is at `parent`. */
  deferred?: { writes: PendingFileWrites; parent: string }
  /** The name is known not to exist (a fresh directory's, not made yet): {@link writeOver} does not look it up. */
  absent?: boolean
}

/**
 * Writes one tar entry (a type in {@link writableEntryTypes}, or a device
 * node when the caller allows them) as `name` in `pfd`, which must not
 * exist; a directory only has its metadata deferred (pushed onto `dirs`).
 * Hard links must point at an earlier entry. Xattrs (when read) are set
 * after the owner, since chown clears security.capability, and before the mode.
 */
async function writeEntry(t: EntryTarget, entry: TarEntry, meta: { uid: number; gid: number; mtime: Date; mode: number }, rel: string, dirs: [string, EntryHeader][]): Promise<void> {
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
      if (t.deferred && deferrableFile(h)) return t.deferred.writes.add(pfd, t.deferred.parent, name, await entryBytes(entry), meta)
      const fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)
      try {
        const small = (h.size ?? 0) <= SYNC_FILE_MAX
        for await (const chunk of entry) {
          if (small) writeAllSync(fd, chunk as Buffer)
          else await writeAll(fd, chunk as Buffer)
        }
        setMetaAndXattrs(fd, meta, h.xattrs, rel)
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

/** The bytes of a (small) entry in one buffer. */
async function entryBytes(entry: TarEntry): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of entry) chunks.push(chunk as Buffer)
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
}

/**
 * Writes the entry over whatever has its name already: a later entry wins,
 * as with tar, except that a directory met by a directory only has its
 * metadata deferred (the two merge).
 */
export async function writeOver(t: EntryTarget, entry: TarEntry, meta: { uid: number; gid: number; mtime: Date; mode: number }, rel: string, dirs: [string, EntryHeader][]): Promise<void> {
  const existing = t.absent ? undefined : lstatAt(t.pfd, t.name)
  if (existing && entry.header.type === 'directory' && isDir(existing)) {
    dirs.push([rel, entry.header])
    for await (const _ of entry);
    return
  }
  if (existing) removeTree(t.pfd, t.name)
  return writeEntry(t, entry, meta, rel, dirs)
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
