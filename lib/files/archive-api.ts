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
import * as path from 'node:path'
import { Readable } from 'node:stream'
import * as tar from 'tar-stream'
import { checkUserId } from '../util/user-id'
import { O_DIRECTORY, O_PATH, RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS } from '../sys/libc'
import { AT_EMPTY_PATH, close, fstatat, listdir, nameStr } from '../sys/fsops'
import { DirNonDirError, NotADirectoryError, PathNotFoundError, UnsafeEntryError } from './errors'
import { closeSide, containerSide, isDir, lstatAt, mapWriteError, openInMaybe, parsePath, resolveInScope, type OpenIn, type Side } from './resolve'
import { openPath, pathStatOf, type PathStat } from './stat'
import { restoreMtime, tempName } from './tree'
import { directWrites, openStageAndLanding, removeStageQuietly, type LandingWrites } from './landing'
import { checkMergeWritable, mergeInto } from './merge'
import { ArchiveWalker } from './archive-walker'
import { openDirThrough, openerThrough, type SourceReads } from './source-reads'
import { OwnerLedger, type InsideIds } from './owner-ledger'
import { PathChain } from './path-chain'
import { decompressed, toNodeReadable } from './tar-streams'
import { entryParts, extractEach, writableEntryTypes, writeOver, type EntryHeader, type TarEntry } from './tar-extract'

export type { PathStat }

const CONFINED = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS

/**
 * A tar stream of a container path and the path's stat. The archive's top
 * entry is the path's last component ("etc", "etc/hosts", ...); a path ending
 * in "/." (or the root) gives the directory's contents. A final symlink is
 * archived as the link itself unless the path ends in "/". `reads` opens the
 * regular files the caller may not (a rootless runtime's keeper); `ids` turns
 * the files' host ids into the ids the container sees (a rootless runtime's
 * namespace), so the headers carry the container's owners, as a root
 * runtime's (and Docker's) do.
 */
export async function getArchive(root: string, p: string, reads?: SourceReads, ids?: InsideIds): Promise<{ stream: Readable; stat: PathStat }> {
  const side = containerSide(root)
  let o: ReturnType<typeof openPath>
  let parsed: ReturnType<typeof parsePath>
  try {
    parsed = parsePath(side, p)
    o = openPath(side, parsed, reads)
  } catch (err) {
    closeSide(side)
    throw err
  }
  const stat = pathStatOf(side, parsed, o.stat, reads)
  const pack = tar.pack()
  const contents = isDir(o.stat) && (parsed.dotSuffix || parsed.base === '')
  const top = parsed.base === '' ? '.' : parsed.base
  const walker = new ArchiveWalker(pack, false, ids, reads)
  ;(async () => {
    try {
      if (contents) {
        const dfd = openDirThrough(reads, o.dirfd, o.name)
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

/**
 * Extracts a tar (optionally gzip-compressed) into the existing container
 * directory `dir`. Existing directories are merged, other existing entries
 * replaced. Directories implied by entry names but not in the archive follow
 * existing symlinks inside the container (e.g. lib -> usr/lib); directories
 * in the archive replace a symlink, as with Docker. Extended attributes in
 * the archive's PAX records are set as Docker sets them (overlay's own marks
 * excepted, see files/xattrs.ts). `writes` makes the writes in `dir`, `reads`
 * resolves it where the caller may not (a rootless runtime's keeper).
 */
export async function putArchive(root: string, dir: string, input: Readable | Buffer, opts: PutArchiveOptions = {}, writes: LandingWrites = directWrites, reads?: SourceReads): Promise<void> {
  if (opts.chown) {
    checkUserId(opts.chown.uid, 'putArchive chown.uid')
    checkUserId(opts.chown.gid, 'putArchive chown.gid')
  }
  const side = containerSide(root)
  try {
    const p = parsePath(side, dir)
    const open = openerThrough(reads)
    const dirPath = resolveInScope(side, p.clean, open)
    const dirfd = openInMaybe(side, dirPath, O_PATH, open)
    if (dirfd === undefined) throw new PathNotFoundError(side.display(dir), 'path-missing')
    try {
      if (!isDir(fstatat(dirfd, '', AT_EMPTY_PATH))) throw new NotADirectoryError(side.display(dir), 'dest-not-dir')
      await extractInto(side, dirfd, dirPath, input, opts, { writes, open, reads })
    } finally {
      close(dirfd)
    }
  } finally {
    closeSide(side)
  }
}

async function extractInto(
  side: Side,
  dirfd: number,
  dirPath: string,
  input: Readable | Buffer,
  opts: PutArchiveOptions,
  { writes, open, reads }: { writes: LandingWrites; open: OpenIn; reads?: SourceReads },
): Promise<void> {
  const where = side.display(dirPath)
  const stage = tempName('.mc-put-')
  const before = lstatAt(dirfd, '')!
  try {
    writes.mkdir(dirfd, stage, 0o700)
  } catch (err) {
    throw mapWriteError(err, where)
  }
  let stagefd = -1
  let merging = false
  const implicit = new Set<string>()
  const source = decompressed(Buffer.isBuffer(input) ? Readable.from([input]) : input)
  try {
    const opened = openStageAndLanding(dirfd, stage, reads)
    stagefd = opened.stagefd
    const landing = opened.landingfd
    try {
      const fd = stagefd
      const parents = stagedParents(fd, implicit)
      const owners = writes.giveOwners ? new OwnerLedger() : undefined
      try {
        await extractEach(source, fd, CONFINED, (entry, dirs) => extractEntry(fd, entry, opts, parents, implicit, dirs, owners), { ...opts, xattrs: true })
      } finally {
        parents.close()
      }
      opts.signal?.throwIfAborted()
      if (owners) writes.fitOwners?.(owners)
      checkMergeWritable(stagefd, landing, (rel) => side.display(path.posix.join(dirPath, rel)), reads)
      merging = true
      await mergeInto(stagefd, landing, {
        owner: true,
        writes,
        reads,
        noOverwriteDirNonDir: opts.noOverwriteDirNonDir,
        describe: (rel) => side.display(path.posix.join(dirPath, rel)),
        dirNonDir: (rel) => new DirNonDirError(side.display(path.posix.join(dirPath, rel))),
        keepDestMeta: (rel) => implicit.has(rel),
        followLinkDir: (rel) => {
          if (!implicit.has(rel)) return undefined
          const target = openInMaybe(side, path.posix.join(dirPath, rel), O_PATH | O_DIRECTORY, open)
          // Below a followed symlink the owners' records, resolved without following one, would not reach: those stay the caller's.
          if (target !== undefined) owners?.forget(rel)
          return target
        },
      })
      // The archive's owners, once every entry is in place: given in the stage, they would shut the user out of the merge.
      if (owners?.size) writes.giveOwners!(landing, owners)
    } finally {
      close(landing)
    }
  } catch (err) {
    source.destroy() // stops reading the caller's stream
    removeStageQuietly(dirfd, stage, writes, stagefd)
    if (stagefd >= 0) close(stagefd)
    stagefd = -1
    if (!merging) restoreMtime(dirfd, before)
    throw mapWriteError(err, where)
  } finally {
    removeStageQuietly(dirfd, stage, writes, stagefd)
    if (stagefd >= 0) close(stagefd)
  }
}

/** The parents of the last entry in the staging dir, kept open for the next ones (see PathChain); missing ones are made (mode 0755) and remembered as implied. */
function stagedParents(stagefd: number, implicit: Set<string>): PathChain {
  return new PathChain(stagefd, { flags: O_PATH, resolve: CONFINED, made: (rel) => implicit.add(rel) })
}

async function extractEntry(stagefd: number, entry: TarEntry, opts: PutArchiveOptions, parents: PathChain, implicit: Set<string>, dirs: [string, EntryHeader][], owners?: OwnerLedger): Promise<void> {
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
  // Entries are never written through symlinks.
  const notDir = (parent: string) => new UnsafeEntryError(`archive entry ${JSON.stringify(h.name)}`, `its parent ${parent} is not a directory in the archive (entries are never written through symlinks)`)
  const pfd = parents.open(parts.slice(0, -1), notDir)
  implicit.delete(rel) // in the archive now, whatever made it before
  const meta = { uid: opts.chown?.uid ?? h.uid ?? 0, gid: opts.chown?.gid ?? h.gid ?? 0, mtime: h.mtime ?? new Date(), mode: (h.mode ?? 0o644) & 0o7777 }
  await writeOver({ rootfd: stagefd, resolve: CONFINED, pfd, name, label: 'archive entry' }, entry, meta, rel, dirs)
  // A hard link shares its target's inode, and owner.
  if (type !== 'link') owners?.record(rel, meta)
}
