/**
 * fd-relative file operations (native/fsops.c) for copying across a
 * container's wall. Each takes a directory fd and a single path component and
 * never follows a symlink in that component; failures throw
 * {@link SyscallError} with the errno name.
 *
 * @module
 */
import { NativeError, SyscallError } from '../errors'
import koffi from './koffi'
import { cName, decodeName } from './byte-names'
import { checkNegErrno, errnoName, libc, nativeLib } from './libc'
import { inAsyncSlot } from './koffi-async'

type Fn = ReturnType<ReturnType<typeof koffi.load>['func']>
interface Fns {
  openat: Fn
  close: Fn
  mkdirat: Fn
  unlinkat: Fn
  renameat2: Fn
  linkat: Fn
  symlinkat: Fn
  readlinkat: Fn
  fstatat: Fn
  mknodat: Fn
  setMeta: Fn
  writeFile: Fn
  copyMeta: Fn
  copyData: Fn
  copyFile: Fn
  finishFile: Fn
  copySymlink: Fn
  copySpecial: Fn
  listdir: Fn
  openRegular: Fn
  fgetxattr: Fn
  fsetxattr: Fn
  flistxattr: Fn
}
let fns: Fns | undefined

/** The calls with `const char *` name (or target) parameters. */
const NAMED = ['openat', 'mkdirat', 'unlinkat', 'renameat2', 'linkat', 'symlinkat', 'readlinkat', 'fstatat', 'mknodat', 'setMeta', 'copyFile', 'copySymlink', 'copySpecial', 'openRegular'] as const

/** A native call whose string arguments reach C as the bytes they name ({@link cName}). */
function withNameBytes(f: Fn): Fn {
  return ((...args: unknown[]) => f(...args.map(cName))) as Fn
}

function lib(): Fns {
  if (fns) return fns
  const l = nativeLib()
  try {
    fns = {
      openat: l.func('int mc_openat(int dirfd, const char *name, int flags, int mode)'),
      close: l.func('int mc_close(int fd)'),
      mkdirat: l.func('int mc_mkdirat(int dirfd, const char *name, int mode)'),
      unlinkat: l.func('int mc_unlinkat(int dirfd, const char *name, int flags)'),
      renameat2: l.func('int mc_renameat2(int olddirfd, const char *oldname, int newdirfd, const char *newname, unsigned int flags)'),
      linkat: l.func('int mc_linkat(int olddirfd, const char *oldname, int newdirfd, const char *newname, int flags)'),
      symlinkat: l.func('int mc_symlinkat(const char *target, int dirfd, const char *name)'),
      readlinkat: l.func('int mc_readlinkat(int dirfd, const char *name, _Out_ uint8_t *buf, int size)'),
      fstatat: l.func('int mc_fstatat(int dirfd, const char *name, int flags, _Out_ uint64_t *out)'),
      mknodat: l.func('int mc_mknodat(int dirfd, const char *name, unsigned int mode, unsigned int major, unsigned int minor)'),
      setMeta: l.func('int mc_set_meta(int dirfd, const char *name, unsigned int what, unsigned int uid, unsigned int gid, unsigned int mode, int64_t sec, int64_t nsec)'),
      writeFile: l.func('int mc_write_file(int dirfd, const char *name, const uint8_t *data, int64_t len, unsigned int what, unsigned int uid, unsigned int gid, unsigned int mode, int64_t sec, int64_t nsec)'),
      copyMeta: l.func('int mc_copy_meta(int srcfd, int dstfd, int flags)'),
      copyData: l.func('int64_t mc_copy_data(int infd, int outfd, int64_t max, int sparse)'),
      copyFile: l.func('int mc_copy_file(int sdir, const char *sname, int ddir, const char *dname, int flags, _Inout_ uint64_t *out, _Out_ int *fds)'),
      finishFile: l.func('int mc_finish_file(int infd, int outfd, int flags)'),
      copySymlink: l.func('int mc_copy_symlink(int sdir, const char *sname, int ddir, const char *dname, int flags, _Out_ uint64_t *out)'),
      copySpecial: l.func('int mc_copy_special(int sdir, const char *sname, int ddir, const char *dname, int flags, _Out_ uint64_t *out)'),
      listdir: l.func('int mc_listdir(int dirfd, _Out_ uint8_t *buf, int size)'),
      openRegular: l.func('int mc_open_regular(int dirfd, const char *name, int flags, _Out_ uint64_t *out)'),
      fgetxattr: l.func('int mc_fgetxattr(int fd, const char *name, _Out_ uint8_t *buf, int size)'),
      fsetxattr: l.func('int mc_fsetxattr(int fd, const char *name, const uint8_t *value, int size, int flags)'),
      flistxattr: l.func('int mc_flistxattr(int fd, _Out_ uint8_t *buf, int size)'),
    }
    for (const key of NAMED) fns[key] = withNameBytes(fns[key])
  } catch (err) {
    throw new NativeError(`libmcnative.so is out of date (${(err as Error).message}): run \`npm rebuild minicontainer\``)
  }
  return fns
}

/** libmcnative returns -errno: {@link checkNegErrno} with a path component as the subject. */
function check(r: number, call: string, subject?: Name): number {
  return checkNegErrno(r, call, subject === undefined ? undefined : nameStr(subject))
}

/**
 * A single path component: a string, or for a name that is not valid UTF-8 the
 * raw bytes as a NUL-terminated Buffer (koffi passes either as `const char *`).
 */
export type Name = string | Buffer

/** A name as a string, its non-UTF-8 bytes escaped (lossless: see ./byte-names). */
export function nameStr(name: Name): string {
  return typeof name === 'string' ? name : decodeName(name.subarray(0, name.length - 1))
}

/** Stat fields as numbers (mtime split into seconds and nanoseconds for exact copies). */
export interface RawStat {
  mode: number
  uid: number
  gid: number
  size: number
  mtimeSec: number
  mtimeNsec: number
  dev: bigint
  ino: bigint
  nlink: number
  rdev: number
  /** 512-byte blocks allocated (fewer than size / 512: a sparse file). */
  blocks: number
}

function toStat(out: BigUint64Array): RawStat {
  return {
    mode: Number(out[0]),
    uid: Number(out[1]),
    gid: Number(out[2]),
    size: Number(out[3]),
    mtimeSec: Number(BigInt.asIntN(64, out[4])),
    mtimeNsec: Number(out[5]),
    dev: out[6],
    ino: out[7],
    nlink: Number(out[8]),
    rdev: Number(out[9]),
    blocks: Number(out[12]),
  }
}

export const S_IFMT = 0o170000
export const S_IFDIR = 0o040000
export const S_IFREG = 0o100000
export const S_IFLNK = 0o120000
export const S_IFIFO = 0o010000
export const S_IFCHR = 0o020000
export const S_IFBLK = 0o060000
export const S_IFSOCK = 0o140000

export const O_RDONLY = 0
export const O_WRONLY = 1
export const O_RDWR = 2
export const O_CREAT = 0o100
export const O_EXCL = 0o200
export const O_TRUNC = 0o1000
export const O_NONBLOCK = 0o4000
export const AT_SYMLINK_NOFOLLOW = 0x100
export const AT_REMOVEDIR = 0x200
export const AT_SYMLINK_FOLLOW = 0x400
export const AT_EMPTY_PATH = 0x1000
export const RENAME_NOREPLACE = 1
export const RENAME_EXCHANGE = 2

/** Flags of the copy helpers. */
export const MC_OWNER = 1
export const MC_LINKCHECK = 2
export const MC_ALLOW_DEV = 4
export const MC_SYNC_LIMIT = 8
/** The user.* and trusted.* attributes a layer keeps too (overlay's marks excepted), set before the mode. */
export const MC_XATTRS = 16

/** openat(2) with O_CLOEXEC added; returns the fd. */
export function openat(dirfd: number, name: Name, flags: number, mode = 0): number {
  return check(lib().openat(dirfd, name, flags, mode), 'openat', name)
}

/**
 * Opens the regular file `name` of `dirfd` (or `dirfd` itself, an O_PATH fd,
 * when name is "") with `flags`; never follows a symlink and never open()s a
 * device or FIFO (the object is checked through an O_PATH fd first, then
 * reopened through that fd). Throws SyscallError EINVAL for a non-regular file.
 */
export function openRegular(dirfd: number, name: Name, flags: number): { fd: number; stat: RawStat } {
  const out = new BigUint64Array(13)
  const fd = check(lib().openRegular(dirfd, name, flags, out), 'open', name === '' ? undefined : name)
  return { fd, stat: toStat(out) }
}

/** An extended attribute of an opened fd as a string, or undefined when unset or unsupported. */
export function fgetxattr(fd: number, name: string): string | undefined {
  return fgetxattrBytes(fd, name)?.toString('utf8')
}

/** An extended attribute's raw bytes (binary values such as security.capability), or undefined when unset or unsupported. */
export function fgetxattrBytes(fd: number, name: string): Buffer | undefined {
  return readProbed((buf, size) => lib().fgetxattr(fd, name, buf, size), 'fgetxattr', name)
}

/** The names of an opened fd's extended attributes ([] where the filesystem has none). */
export function flistxattr(fd: number): string[] {
  return splitNames(readProbed((buf, size) => lib().flistxattr(fd, buf, size), 'flistxattr'))
}

/** The value of the extended attribute `name` of `file` itself (a symlink's own, not its target's); undefined when unset or unsupported. */
export function lgetxattr(file: string, name: string): Buffer | undefined {
  return readProbed((buf, size) => negErrno(pathXattr.lgetxattr(cName(file), name, buf, size)), 'lgetxattr', file)
}

/** The names of the extended attributes of `file` itself (a symlink's own, not its target's); [] where the filesystem has none. */
export function llistxattr(file: string): string[] {
  return splitNames(readProbed((buf, size) => negErrno(pathXattr.llistxattr(cName(file), buf, size)), 'llistxattr', file))
}

/** Removes the extended attribute `name` of `file` itself (a symlink's own). */
export function lremovexattr(file: string, name: string): void {
  check(negErrno(pathXattr.lremovexattr(cName(file), name)), 'lremovexattr', file)
}

/** The xattr calls by path, which glibc has (the fd ones are libmcnative's, beside the other fd calls). */
const pathXattr = {
  llistxattr: libc.func('long llistxattr(const char *path, _Out_ uint8_t *list, size_t size)'),
  lremovexattr: libc.func('int lremovexattr(const char *path, const char *name)'),
  lgetxattr: libc.func('long lgetxattr(const char *path, const char *name, _Out_ uint8_t *value, size_t size)'),
}

/** A libc result in libmcnative's form: -errno for a failure. */
function negErrno(r: number): number {
  return r < 0 ? -koffi.errno() : r
}

const ENODATA = 61
const ERANGE = 34
const EOPNOTSUPP = 95

/**
 * An xattr value or name list, whose length is not known before: `call(null, 0)` (-errno on failure)
 * asks for it (a value can be up to 64 KiB), then a buffer that long is filled; one grown meanwhile
 * (ERANGE) is asked again. undefined when unset (ENODATA) or the filesystem has none (EOPNOTSUPP).
 */
function readProbed(call: (buf: Buffer | null, size: number) => number, syscall: string, subject?: string): Buffer | undefined {
  for (;;) {
    const size = call(null, 0)
    if (size === -ENODATA || size === -EOPNOTSUPP) return undefined
    checkNegErrno(size, syscall, subject)
    const buf = Buffer.alloc(size)
    const n = size ? call(buf, size) : 0
    if (n === -ERANGE) continue
    if (n === -ENODATA || n === -EOPNOTSUPP) return undefined
    checkNegErrno(n, syscall, subject)
    return buf.subarray(0, n)
  }
}

/** A NUL-separated name list as names ([] for none). */
function splitNames(list: Buffer | undefined): string[] {
  return list ? list.toString('utf8').split('\0').filter(Boolean) : []
}

/** Sets an extended attribute on an opened fd. */
export function fsetxattr(fd: number, name: string, value: string | Buffer): void {
  const buf = typeof value === 'string' ? Buffer.from(value) : value
  check(lib().fsetxattr(fd, name, buf, buf.length, 0), 'fsetxattr', name)
}

/** close(2). */
export function close(fd: number): void {
  lib().close(fd)
}

/** mkdirat(2). */
export function mkdirat(dirfd: number, name: Name, mode: number): void {
  check(lib().mkdirat(dirfd, name, mode), 'mkdirat', name)
}

/** unlinkat(2); AT_REMOVEDIR for directories. */
export function unlinkat(dirfd: number, name: Name, flags = 0): void {
  check(lib().unlinkat(dirfd, name, flags), 'unlinkat', name)
}

/** renameat2(2); RENAME_NOREPLACE or RENAME_EXCHANGE in flags. */
export function renameat2(olddirfd: number, oldname: Name, newdirfd: number, newname: Name, flags = 0): void {
  check(lib().renameat2(olddirfd, oldname, newdirfd, newname, flags), 'renameat2', newname)
}

/** linkat(2) (flags 0: a symlink source is linked, not followed). */
export function linkat(olddirfd: number, oldname: Name, newdirfd: number, newname: Name, flags = 0): void {
  check(lib().linkat(olddirfd, oldname, newdirfd, newname, flags), 'linkat', newname)
}

/** symlinkat(2). */
export function symlinkat(target: Name, dirfd: number, name: Name): void {
  check(lib().symlinkat(target, dirfd, name), 'symlinkat', name)
}

/** readlinkat(2): the symlink's target (non-UTF-8 bytes escaped, as names are). */
export function readlinkat(dirfd: number, name: Name): string {
  const buf = Buffer.alloc(4097)
  const n = check(lib().readlinkat(dirfd, name, buf, buf.length), 'readlinkat', name)
  return decodeName(buf.subarray(0, n))
}

/** fstatat(2); `name` "" with AT_EMPTY_PATH stats `dirfd` itself. Returns undefined for ENOENT when `missingOk`. */
export function fstatat(dirfd: number, name: Name, flags: number): RawStat
export function fstatat(dirfd: number, name: Name, flags: number, missingOk: true): RawStat | undefined
export function fstatat(dirfd: number, name: Name, flags: number, missingOk = false): RawStat | undefined {
  const out = new BigUint64Array(13)
  const r = lib().fstatat(dirfd, name, flags, out)
  if (r === -2 && missingOk) return undefined
  check(r, 'fstatat', name)
  return toStat(out)
}

/** mknodat(2). */
export function mknodat(dirfd: number, name: Name, mode: number, major: number, minor: number): void {
  check(lib().mknodat(dirfd, name, mode, major, minor), 'mknodat', name)
}

/**
 * Sets metadata of `name` in `dirfd` without following a symlink (name ""
 * targets `dirfd` itself, which must then be opened, not O_PATH). Owner
 * changes that the kernel refuses (EPERM/EINVAL) are skipped.
 */
export function setMeta(dirfd: number, name: Name, m: FileMeta): void {
  const { what, sec, nsec } = metaArgs(m)
  check(lib().setMeta(dirfd, name, what, m.uid ?? 0, m.gid ?? 0, m.mode ?? 0, sec, nsec), 'setmeta', name === '' ? undefined : name)
}

/** Owner, mode and mtime to set ({@link setMeta}); an absent field is left as it is. */
export interface FileMeta {
  uid?: number
  gid?: number
  mode?: number
  mtime?: Date | { sec: number; nsec: number }
}

/** The `what` bits (1 owner, 2 mode, 4 mtime) and the mtime of libmcnative's metadata calls. */
function metaArgs(m: FileMeta): { what: number; sec: number; nsec: number } {
  let what = 0
  if (m.uid !== undefined && m.gid !== undefined) what |= 1
  if (m.mode !== undefined) what |= 2
  let sec = 0
  let nsec = 0
  if (m.mtime !== undefined) {
    what |= 4
    if (m.mtime instanceof Date) {
      const ms = m.mtime.getTime()
      sec = Math.floor(ms / 1000)
      nsec = (ms - sec * 1000) * 1e6
    } else ({ sec, nsec } = m.mtime)
  }
  return { what, sec, nsec }
}

/**
 * Creates `name` in `dirfd` (O_EXCL, never through a symlink) holding
 * `data`, then sets its metadata as {@link setMeta} does, in one call on a
 * worker thread: the create, write, chown, chmod, utimes and close of a small
 * file leave this thread. `dirfd` must stay open until it resolves.
 */
export function writeFileAsync(dirfd: number, name: Name, data: Buffer, m: FileMeta): Promise<void> {
  const { what, sec, nsec } = metaArgs(m)
  const cname = cName(name)
  return inAsyncSlot(() => new Promise<void>((resolve, reject) => {
    lib().writeFile.async(dirfd, cname, data, data.length, what, m.uid ?? 0, m.gid ?? 0, m.mode ?? 0, sec, nsec, (err: unknown, r: number) => {
      void [data, cname] // named here, so that they stay alive until the worker thread is done with their bytes
      if (err) reject(err)
      else if (r < 0) reject(new SyscallError('write_file', errnoName(-r), nameStr(name)))
      else resolve()
    })
  }))
}

/** Copies owner (with MC_OWNER), a layer's attributes (with MC_XATTRS), mode and times from one open fd to another. */
export function copyMeta(srcfd: number, dstfd: number, flags: number): void {
  check(lib().copyMeta(srcfd, dstfd, flags), 'copymeta')
}

/**
 * Copies up to `max` bytes (-1: to EOF) between fds at their offsets, on a
 * worker thread (copy_file_range, sendfile, read/write). With `sparse`, holes
 * are skipped (the caller extends the file at the end, see finishFile).
 * Resolves to the bytes advanced; fewer than `max` only at EOF.
 */
export function copyDataAsync(infd: number, outfd: number, max: number, sparse = false): Promise<number> {
  return inAsyncSlot(() => new Promise<number>((resolve, reject) => {
    lib().copyData.async(infd, outfd, max, sparse ? 1 : 0, (err: unknown, r: number | bigint) => {
      if (err) return reject(err)
      const n = Number(r)
      if (n < 0) reject(new SyscallError('copy_file_range', errnoName(-n)))
      else resolve(n)
    })
  }))
}

/** Copies up to `max` bytes (-1: to EOF) between fds, blocking. */
export function copyData(infd: number, outfd: number, max: number): number {
  return check(Number(lib().copyData(infd, outfd, max, 0)), 'copy_file_range')
}

/** Result of {@link copyFile}. */
export type CopyFileResult =
  | { kind: 'done'; stat: RawStat }
  | { kind: 'linked'; stat: RawStat }
  | { kind: 'open'; stat: RawStat; infd: number; outfd: number }

/**
 * Copies regular file `sname` of `sdir` to new file `dname` of `ddir` (O_EXCL,
 * O_NOFOLLOW). With MC_LINKCHECK, a source with several hard links is only
 * stat'ed ('linked'); with MC_SYNC_LIMIT, a source larger than `syncLimit` is
 * returned open ('open') for an async copy and {@link finishFile}.
 */
export function copyFile(sdir: number, sname: Name, ddir: number, dname: Name, flags: number, syncLimit = 0): CopyFileResult {
  const out = new BigUint64Array(13)
  out[0] = BigInt(syncLimit)
  const fds = [0, 0]
  const r = lib().copyFile(sdir, sname, ddir, dname, flags, out, fds)
  check(r, 'copyfile', sname)
  const stat = toStat(out)
  if (r === 1) return { kind: 'linked', stat }
  if (r === 2) return { kind: 'open', stat, infd: fds[0], outfd: fds[1] }
  return { kind: 'done', stat }
}

/** Extends the copy to the source's size (trailing holes), copies metadata and closes both fds of an 'open' {@link copyFile}. */
export function finishFile(infd: number, outfd: number, flags: number): void {
  check(lib().finishFile(infd, outfd, flags), 'copyfile')
}

/** Copies symlink `sname` as a new symlink `dname` (target text, owner, times). */
export function copySymlink(sdir: number, sname: Name, ddir: number, dname: Name, flags: number): RawStat {
  const out = new BigUint64Array(13)
  check(lib().copySymlink(sdir, sname, ddir, dname, flags, out), 'copysymlink', sname)
  return toStat(out)
}

/** Copies a FIFO (or with MC_ALLOW_DEV a device node) `sname` as `dname`. */
export function copySpecial(sdir: number, sname: Name, ddir: number, dname: Name, flags: number): RawStat {
  const out = new BigUint64Array(13)
  check(lib().copySpecial(sdir, sname, ddir, dname, flags, out), 'copyspecial', sname)
  return toStat(out)
}

/** A directory entry: name and d_type (DT_UNKNOWN 0, DT_DIR 4, DT_REG 8, DT_LNK 10). */
export interface DirEntry {
  name: Name
  type: number
}
export const DT_UNKNOWN = 0
export const DT_DIR = 4
export const DT_REG = 8
export const DT_LNK = 10

let listBuf = Buffer.alloc(1 << 16)

/** The entries of an open directory fd (not O_PATH), without "." and "..". */
export function listdir(dirfd: number): DirEntry[] {
  for (;;) {
    const n = lib().listdir(dirfd, listBuf, listBuf.length)
    if (n === -105 /* ENOBUFS */) {
      listBuf = Buffer.alloc(listBuf.length * 4)
      continue
    }
    check(n, 'getdents64')
    const entries: DirEntry[] = []
    let i = 0
    while (i < n) {
      const type = listBuf[i]
      const end = listBuf.indexOf(0, i + 1)
      const text = listBuf.toString('utf8', i + 1, end)
      // Names that are not valid UTF-8 stay bytes, so they can be opened.
      const name = Buffer.byteLength(text) === end - i - 1 && !text.includes('\ufffd') ? text : Buffer.from(listBuf.subarray(i + 1, end + 1))
      entries.push({ name, type })
      i = end + 1
    }
    return entries
  }
}
