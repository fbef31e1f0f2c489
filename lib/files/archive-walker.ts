/**
 * Walking a tree into a tar pack without following symlinks: for docker cp
 * (getArchive) and for an overlay upper dir turned into an OCI layer.
 *
 * @module
 */
import type { InsideIds } from './owner-ledger'
import * as fs from 'node:fs'
import type * as tar from 'tar-stream'
import { SyscallError } from '../errors'
import {
  O_RDONLY,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  close,
  listdir,
  nameStr,
  readlinkat,
  type DirEntry,
  type Name,
  type RawStat,
} from '../sys/fsops'
import { majorOf, minorOf } from '../sys/device-number'
import { copyXattr, layerXattr, readXattrs, type Xattrs } from './xattrs'
import { mtimeOf } from './stat'
import { entryWritten } from './tar-writer'
import { DirChain } from './dir-chain'
import { atPathThrough, directReads, lstatThrough, pushThrough, type SourceReads } from './source-reads'

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
  /** Reads an attribute of an open file, through `reads` when the caller may not (user.* of another id's). */
  private readonly getxattr: (fd: number, name: string) => Buffer | undefined
  /**
   * @param pack - where the entries go.
   * @param layer - a layer (sorted, a layer's xattrs, whiteouts translated), else a copy's archive.
   * @param ids - the ids to record for a file's host ids (a rootless runtime's namespace's); as they are without.
   */
  constructor(
    private readonly pack: tar.Pack,
    private readonly layer = false,
    private readonly ids?: InsideIds,
    /** Opens what the caller may not (a rootless runtime's keeper for files and directories of another id). */
    private readonly reads?: SourceReads,
  ) {
    this.keepXattr = layer ? layerXattr : copyXattr
    this.getxattr = (fd, name) => (reads ?? directReads).getxattr(fd, name)
  }

  /** The entries of a dir fd, sorted in layer mode (reproducible digests). */
  entries(dfd: number) {
    const list = listdir(dfd)
    if (!this.layer) return list
    // Each name's bytes once (a Buffer name already is them, NUL-terminated), not a decode and encode per comparison.
    const keyed = list.map((e) => ({ e, key: typeof e.name === 'string' ? Buffer.from(e.name) : e.name.subarray(0, e.name.length - 1) }))
    return keyed.sort((a, b) => Buffer.compare(a.key, b.key)).map((k) => k.e)
  }

  /**
   * Adds `name` of `dirfd` as `entryName`, and everything below it. The walk
   * is a loop over a {@link DirChain}: any depth, with bounded fds and stack.
   */
  async add(dirfd: number, name: Name, entryName: string): Promise<void> {
    const chain = new DirChain(dirfd, O_RDONLY)
    /** Per directory on the chain: its entry name, and its entries still to add (last first). */
    const open: { entryName: string; rest: DirEntry[] }[] = []
    try {
      if (await this.addOne(chain, name, entryName)) open.push({ entryName, rest: this.entries(chain.top()).reverse() })
      while (open.length > 0) {
        const dir = open[open.length - 1]
        const e = dir.rest.pop()
        if (!e) {
          open.pop()
          chain.pop()
          continue
        }
        const child = `${dir.entryName}/${nameStr(e.name)}`
        if (await this.addOne(chain, e.name, child)) open.push({ entryName: child, rest: this.entries(chain.top()).reverse() })
      }
    } finally {
      chain.close()
    }
  }

  /** Adds `name` of the chain's top; a directory's own entry only, and then it is pushed onto the chain (true). */
  private async addOne(chain: DirChain, name: Name, entryName: string, retried = false): Promise<boolean> {
    const dirfd = chain.top()
    const st = lstatThrough(this.reads, dirfd, name)
    if (!st) return false
    const base = { name: entryName, mode: st.mode & 0o7777, uid: this.ids?.uid(st.uid) ?? st.uid, gid: this.ids?.gid(st.gid) ?? st.gid, mtime: mtimeOf(st) }
    if ((st.mode & S_IFMT) !== S_IFDIR) {
      await this.addLeaf(dirfd, name, entryName, st, base)
      return false
    }
    try {
      pushThrough(this.reads, chain, name)
    } catch (err) {
      // Swapped for a non-directory since the lstat: archive what is there now, once.
      if (err instanceof SyscallError && (err.errno === 'ELOOP' || err.errno === 'ENOTDIR' || err.errno === 'ENOENT')) return retried ? false : this.addOne(chain, name, entryName, true)
      throw err
    }
    try {
      const dfd = chain.top()
      await entryWritten(this.pack, { ...base, name: `${entryName}/`, type: 'directory' }, undefined, readXattrs(dfd, this.keepXattr, this.getxattr))
      if (this.layer && OPAQUE_XATTRS.some((x) => this.getxattr(dfd, x)?.toString() === 'y'))
        await entryWritten(this.pack, { name: `${entryName}/.wh..wh..opq`, mode: 0, uid: 0, gid: 0, mtime: base.mtime, type: 'file', size: 0 })
    } catch (err) {
      chain.pop()
      throw err
    }
    return true
  }

  /** Adds a non-directory `name` of `dirfd` as `entryName`. */
  private async addLeaf(dirfd: number, name: Name, entryName: string, st: RawStat, base: Partial<tar.Header> & { name: string }): Promise<void> {
    switch (st.mode & S_IFMT) {
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
          ;({ fd, stat: fst } = (this.reads ?? directReads).openRegular(dirfd, name))
        } catch (err) {
          // Swapped for something else since the lstat: skip it.
          if (err instanceof SyscallError && (err.errno === 'ELOOP' || err.errno === 'ENOENT' || err.errno === 'EINVAL')) return
          throw err
        }
        // Exactly the size in the header, padded with zeros if the file shrank meanwhile.
        let xattrs: Xattrs | undefined
        try {
          xattrs = readXattrs(fd, this.keepXattr, this.getxattr)
        } catch (err) {
          close(fd)
          throw err
        }
        const body = readExactly(fd, fst.size)
        return entryWritten(this.pack, { ...base, type: 'file', size: fst.size }, body, xattrs)
      }
      case S_IFLNK:
        return entryWritten(this.pack, { ...base, type: 'symlink', linkname: atPathThrough(this.reads, dirfd, name, readlinkat) })
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

/**
 * Files up to this size are read synchronously, in one chunk: from the page cache that costs less than
 * a threadpool round trip (a RUN's layer of a few small files, a commit's, a getArchive's).
 */
const SYNC_READ_MAX = 64 << 10

/** Reads exactly `size` bytes of `fd` (zero-padded if the file shrank meanwhile), then closes it. */
async function* readExactly(fd: number, size: number): AsyncGenerator<Buffer> {
  try {
    if (size <= SYNC_READ_MAX) {
      if (size > 0) yield smallFileBytes(fd, size)
      return
    }
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

/** Exactly `size` bytes of `fd` from offset 0, read here (zero-padded if the file shrank meanwhile). */
function smallFileBytes(fd: number, size: number): Buffer {
  const buf = Buffer.alloc(size)
  for (let done = 0, n; done < size && (n = fs.readSync(fd, buf, done, size - done, done)) > 0; ) done += n
  return buf
}
