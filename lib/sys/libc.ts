/**
 * The bottom layer: system calls through koffi, with errno turned into
 * {@link SyscallError}. Nothing here knows about containers.
 *
 * Calls are synchronous and made on the main thread on purpose: they are
 * microseconds each, and per-thread state (setns, unshare) must stay on the
 * thread that made it.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { NativeError, SyscallError } from '../errors'
import { cName } from './byte-names'
import koffi, { type LibraryHandle } from './koffi'
import { missingNativeHint, nativeDir } from './native-dir'
import { inAsyncSlot } from './koffi-async'

/** glibc, loaded once: modules declaring their own libc calls (file-flags) take it from here. */
export const libc = koffi.load('libc.so.6')
let native: LibraryHandle | undefined

/** The native helper library (libmcnative.so, built or prebuilt: see native-dir.ts), loaded once. */
export function nativeLib(): LibraryHandle {
  if (native) return native
  const file = path.join(nativeDir, 'libmcnative.so')
  if (!fs.existsSync(file)) throw new NativeError(missingNativeHint(file))
  native = koffi.load(file)
  return native
}

const errnoNames = new Map<number, string>(Object.entries(os.constants.errno).map(([name, value]) => [value, name]))

/** The symbolic name of an errno value, e.g. 2 -> "ENOENT". */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`
}

/** Throws a SyscallError from the current errno when `result` is negative; returns `result` otherwise. */
function checkErrno(result: number, syscall: string, subject?: string): number {
  if (result < 0) throw new SyscallError(syscall, errnoName(koffi.errno()), subject)
  return result
}

/** Like {@link checkErrno}, for calls that return -errno instead of setting errno. */
export function checkNegErrno(result: number, syscall: string, subject?: string): number {
  if (result < 0) throw new SyscallError(syscall, errnoName(-result), subject)
  return result
}

const c = {
  mount: libc.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
  umount2: libc.func('int umount2(const char *target, int flags)'),
  setns: libc.func('int setns(int fd, int nstype)'),
  close: libc.func('int close(int fd)'),
  dlopen: libc.func('void *dlopen(const char *file, int flags)'),
  socketpair: libc.func('int socketpair(int domain, int type, int protocol, _Out_ int *sv)'),
  pipe2: libc.func('int pipe2(_Out_ int *fds, int flags)'),
  waitpid: libc.func('int waitpid(int pid, _Out_ int *status, int options)'),
  flock: libc.func('int flock(int fd, int operation)'),
  fcntl: libc.func('int fcntl(int fd, int cmd, int arg)'),
}

type NativeFunction = ReturnType<LibraryHandle['func']>

/**
 * Functions of libmcnative by C prototype, bound on first use (the library is
 * loaded only when something needs it): `fns().name(...)`.
 */
export function nativeFunctions<K extends string>(prototypes: Record<K, string>): () => Record<K, NativeFunction> {
  let bound: Record<K, NativeFunction> | undefined
  return () => {
    if (bound) return bound
    const lib = nativeLib()
    bound = Object.fromEntries(Object.entries<string>(prototypes).map(([name, proto]) => [name, lib.func(proto)])) as Record<K, NativeFunction>
    return bound
  }
}

const nativeCalls = nativeFunctions({
  spawn: 'int mc_spawn(const char *path, const char **argv, const char **envp, const int *fds, int nfds, int new_session)',
  spawnLasting: 'int mc_spawn_lasting(const char *path, const char **argv, const char **envp, const int *fds, int nfds, int new_session)',
  zygoteAttach: 'int mc_zygote_attach(int zygote)',
  zygoteFork: 'int mc_zygote_fork(int zygote, const int *fds, int nfds)',
  zygoteForkMany: 'int mc_zygote_fork_many(int zygote, const int *fds, int nfds, int count, const int *bare, _Out_ int32_t *pids)',
  zygoteUnclaimed: 'int mc_zygote_unclaimed(int zygote, _Out_ int32_t *pids, int max)',
  openat2: 'int mc_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve)',
})

/** mount(2). */
export function mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): void {
  checkErrno(c.mount(source, target, fstype, flags, data), 'mount', target)
}

/** umount2(2). */
export function umount2(target: string, flags = 0): void {
  checkErrno(c.umount2(target, flags), 'umount', target)
}

/** setns(2): moves the calling thread into the namespace behind `fd`. */
export function setns(fd: number, nstype: number): void {
  checkErrno(c.setns(fd, nstype), 'setns')
}

/** close(2), ignoring errors (used on cleanup paths). */
export function closeQuietly(fd: number): void {
  if (fd >= 0) c.close(fd)
}

const RTLD_NOW = 2
const RTLD_NOLOAD = 4
const RTLD_NODELETE = 0x1000

/**
 * Makes the already loaded shared library `file` stay loaded until the process ends (dlopen with
 * RTLD_NOLOAD | RTLD_NODELETE: nothing is loaded or initialised again); false when it is not loaded.
 */
export function pinLoadedLibrary(file: string): boolean {
  return c.dlopen(file, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) !== null
}

const F_DUPFD_CLOEXEC = 1030

/** A new close-on-exec fd referring to what `fd` refers to (fcntl F_DUPFD_CLOEXEC), opened with libc: close it with {@link closeQuietly}. */
export function dupFd(fd: number): number {
  return checkErrno(c.fcntl(fd, F_DUPFD_CLOEXEC, 0), 'fcntl')
}

/** A connected pair of close-on-exec AF_UNIX stream sockets. */
export function socketPair(): [number, number] {
  const fds = [0, 0]
  checkErrno(c.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 'socketpair')
  return [fds[0], fds[1]]
}

/** A close-on-exec pipe: [read end, write end]. */
export function pipe(): [number, number] {
  const fds = [0, 0]
  checkErrno(c.pipe2(fds, O_CLOEXEC), 'pipe2')
  return [fds[0], fds[1]]
}

/** waitpid(2); returns the raw status, or null with WNOHANG when the child is still running. */
export function waitPid(pid: number, options = 0): number | null {
  const status = [0]
  const r = checkErrno(c.waitpid(pid, status, options), 'waitpid')
  return r === 0 ? null : status[0]
}

/**
 * Reaps a child that ended or is ending (waits briefly for one whose socket just closed); its waitpid
 * status, undefined when it was already reaped. Never throws.
 */
export function reapEnded(pid: number): number | undefined {
  try {
    return waitPid(pid, WNOHANG) ?? waitPid(pid) ?? undefined
  } catch {
    return undefined // already reaped
  }
}

/**
 * posix_spawn with `fds[i]` as fd i of the child (-1 leaves it closed),
 * default signal dispositions, and an optional new session. Returns the pid.
 */
export function spawnProcess(file: string, argv: string[], env: string[], fds: number[], newSession: boolean): number {
  return spawnBy(nativeCalls().spawn, file, argv, env, fds, newSession)
}

/**
 * {@link spawnProcess} from a native thread that lives as long as the process, the caller waiting
 * (synchronous): PR_SET_PDEATHSIG fires when the child's parent *thread* exits, so a long-lived helper
 * spawned from a worker_thread's JavaScript thread would die when that worker ends.
 */
export function spawnProcessLasting(file: string, argv: string[], env: string[], fds: number[], newSession: boolean): number {
  return spawnBy(nativeCalls().spawnLasting, file, argv, env, fds, newSession)
}

/** Calls the native spawn `fn` (mc_spawn's arguments) synchronously: the pid, or a SyscallError. */
function spawnBy(fn: NativeFunction, file: string, argv: string[], env: string[], fds: number[], newSession: boolean): number {
  return checkNegErrno(fn(file, [...argv, null], [...env, null], fds, fds.length, newSession ? 1 : 0), 'posix_spawn', file)
}

/**
 * {@link spawnProcess} on a worker thread: posix_spawn's parent waits until
 * the child has exec'd, a millisecond or more that a burst of starts would
 * otherwise spend one after the other on the event loop. The caller keeps
 * `fds` open until it resolves.
 */
export function spawnProcessAsync(file: string, argv: string[], env: string[], fds: number[], newSession: boolean): Promise<number> {
  return spawnOnWorker(nativeCalls().spawn, file, argv, env, fds, newSession)
}

/**
 * {@link spawnProcessLasting} without holding this thread while the child execs: a libuv worker
 * waits for the lasting thread's spawn instead. The caller keeps `fds` open until it resolves.
 */
export function spawnProcessLastingAsync(file: string, argv: string[], env: string[], fds: number[], newSession: boolean): Promise<number> {
  return spawnOnWorker(nativeCalls().spawnLasting, file, argv, env, fds, newSession)
}

/** Calls the native spawn `fn` (mc_spawn's arguments) on a libuv worker: the pid, or a SyscallError. */
function spawnOnWorker(fn: NativeFunction, file: string, argv: string[], env: string[], fds: number[], newSession: boolean): Promise<number> {
  return callOnWorker(fn, [file, [...argv, null], [...env, null], fds, fds.length, newSession ? 1 : 0], 'posix_spawn', file)
}

/**
 * Calls native `fn` (returning a count or -errno) on a libuv worker, in one of koffi's async slots
 * (./koffi-async): its result, or a SyscallError of `syscall`. For a call that may wait in the kernel
 * (a lock, a child's exec) while the event loop goes on. The caller keeps buffers passed in alive
 * until it settles.
 */
export function callOnWorker(fn: NativeFunction, args: unknown[], syscall: string, subject?: string): Promise<number> {
  return inAsyncSlot(() => onWorker(fn, args, syscall, subject))
}

/** Runs native `fn` (returning a count or -errno) on a worker thread; its result, or a SyscallError of `syscall`. */
function onWorker(fn: NativeFunction, args: unknown[], syscall: string, subject?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    fn.async(...args, (err: unknown, r: number) => {
      try {
        if (err) throw err
        resolve(checkNegErrno(r, syscall, subject))
      } catch (error) {
        reject(error)
      }
    })
  })
}

/**
 * Readies socket `zygote` (native/zygote.c) for {@link forkFromZygoteAsync}, once, before its first
 * fork: each answer is waited for 2 s at most, and the file Node's umask is read from is open.
 */
export function attachZygote(zygote: number): void {
  checkNegErrno(nativeCalls().zygoteAttach(zygote), 'zygote attach')
}

/**
 * Asks the zygote behind socket `zygote` (native/zygote.c) for a process forked from it, whose fd 3
 * is `fds[0]`: a run shim for one fd, an exec shim whose stdio are `fds[1..3]` for four. On a worker
 * thread (the zygote answers once it forked). Its pid; one request at a time per zygote, or the
 * answers cross; ETIMEDOUT when it has not answered in 2 s.
 */
export function forkFromZygoteAsync(zygote: number, fds: readonly number[]): Promise<number> {
  return inAsyncSlot(() => onWorker(nativeCalls().zygoteFork, [zygote, fds, fds.length], 'zygote fork'))
}

/**
 * Asks the zygote behind socket `zygote` for one run shim per control socket of `controls` (each its
 * fd 3), all requests sent at once and answered in order (native mc_zygote_fork_many), on a worker
 * thread: a burst of starts costs one trip to a worker and back instead of one per shim. `bare[i]`:
 * the i-th shim makes no warm network namespace (its start brings its own). Each request's pid, or
 * its -errno: a failure, and every request after it, carry that error.
 */
export function forkManyFromZygoteAsync(zygote: number, controls: readonly number[], bare: readonly boolean[]): Promise<number[]> {
  const pids = new Array<number>(controls.length).fill(0)
  const flags = controls.map((_, i) => (bare[i] ? 1 : 0))
  return inAsyncSlot(() => onWorker(nativeCalls().zygoteForkMany, [zygote, controls, 1, controls.length, flags, pids], 'zygote fork')).then(() => pids)
}

/**
 * The pids answered on socket `zygote` that no request read: shims forked for requests that had given
 * up (native mc_zygote_unclaimed). Only once the zygote is dead (killed and reaped), so that none can
 * come after; from the thread that makes the zygote's requests, none being under way.
 */
export function unclaimedZygoteForks(zygote: number): number[] {
  const pids: number[] = []
  for (;;) {
    const chunk = new Array<number>(64).fill(0)
    const count = nativeCalls().zygoteUnclaimed(zygote, chunk, chunk.length)
    pids.push(...chunk.slice(0, Math.max(0, count)))
    if (count < chunk.length) return pids
  }
}

const LOCK_EX = 2
const LOCK_NB = 4
const LOCK_UN = 8

/**
 * flock(2) LOCK_EX without blocking (a blocking call would stall the event
 * loop): true when the lock was taken, false when another open file holds it.
 * The kernel drops the lock when the holder's fd closes or its process dies.
 */
export function tryLockExclusive(fd: number): boolean {
  if (c.flock(fd, LOCK_EX | LOCK_NB) === 0) return true
  const errno = errnoName(koffi.errno())
  if (errno === 'EWOULDBLOCK' || errno === 'EAGAIN') return false
  throw new SyscallError('flock', errno)
}

/** Releases a flock(2) lock. */
export function unlockFile(fd: number): void {
  checkErrno(c.flock(fd, LOCK_UN), 'flock')
}

/** struct flock of fcntl(2) (x86-64 and arm64 lay it out alike). */
const Flock = koffi.struct({ l_type: 'short', l_whence: 'short', l_start: 'int64', l_len: 'int64', l_pid: 'int' })
const F_OFD_SETLK = 37
const F_WRLCK = 1
const F_UNLCK = 2
let fcntlFlock: NativeFunction | undefined

/** fcntl(fd, F_OFD_SETLK) of the one byte at `offset` (SEEK_SET), `type` F_WRLCK or F_UNLCK. */
function ofdSetLock(fd: number, type: number, offset: number): number {
  fcntlFlock ??= libc.func('fcntl', 'int', ['int', 'int', koffi.pointer(Flock)])
  return fcntlFlock(fd, F_OFD_SETLK, { l_type: type, l_whence: 0, l_start: offset, l_len: 1, l_pid: 0 }) as number
}

/**
 * An open file description lock (fcntl F_OFD_SETLK, Linux 3.15+) on the byte at `offset` of `fd`'s
 * file, exclusive, without blocking: true when taken, false when another open file holds it. Unlike
 * flock, one file carries a lock per byte, so many keys need no file each; unlike POSIX record locks,
 * two opens in one process exclude each other. The kernel drops it when the open file's last fd closes.
 */
export function tryLockByte(fd: number, offset: number): boolean {
  if (ofdSetLock(fd, F_WRLCK, offset) === 0) return true
  const errno = errnoName(koffi.errno())
  if (errno === 'EWOULDBLOCK' || errno === 'EAGAIN' || errno === 'EACCES') return false
  throw new SyscallError('fcntl', errno)
}

/** Releases {@link tryLockByte}'s lock. */
export function unlockByte(fd: number, offset: number): void {
  checkErrno(ofdSetLock(fd, F_UNLCK, offset), 'fcntl')
}

/**
 * open(2) of `file` (relative to the cwd), close-on-exec; returns the new fd. Every fd lib/ closes with
 * {@link closeQuietly} or hands to native code is opened here, never with fs.open*: in a worker_thread Node
 * tracks fs-opened fds and closes those it did not see closed when the worker ends, by then another
 * fd (a netlink socket, a shim's control socket) under the same number.
 */
export function openFd(file: string, flags: number, mode = 0): number {
  return openat2(AT_FDCWD, file, flags | O_CLOEXEC, mode, 0)
}

/** openat2(2); returns the new fd. A path with escaped non-UTF-8 bytes (./byte-names) reaches the kernel as those bytes. */
export function openat2(dirfd: number, file: string, flags: number, mode: number, resolve: number): number {
  return checkNegErrno(tryOpenat2(dirfd, file, flags, mode, resolve), 'openat2', file)
}

/**
 * {@link openat2} for a file that is often missing: the new fd, or -errno. No error is made: a thrown
 * SyscallError (its stack captured) costs several times the failed call itself.
 */
export function tryOpenat2(dirfd: number, file: string, flags: number, mode: number, resolve: number): number {
  return nativeCalls().openat2(dirfd, cName(file), flags, mode, resolve)
}

export const AF_UNIX = 1
export const SOCK_STREAM = 1
export const SOCK_CLOEXEC = 0o2000000
export const O_CLOEXEC = 0o2000000
export const O_PATH = 0o10000000
export const O_DIRECTORY = 0o200000
export const O_NOFOLLOW = 0o400000
export const WNOHANG = 1

/** "Relative to the current directory" for the *at() calls, i.e. an absolute or cwd-relative path. */
export const AT_FDCWD = -100

export const RESOLVE_NO_XDEV = 0x01
export const RESOLVE_NO_MAGICLINKS = 0x02
export const RESOLVE_NO_SYMLINKS = 0x04
export const RESOLVE_BENEATH = 0x08
export const RESOLVE_IN_ROOT = 0x10

export const MS_RDONLY = 1
export const MS_NOSUID = 2
export const MS_NODEV = 4
export const MS_NOEXEC = 8
export const MS_REMOUNT = 32
export const MS_BIND = 4096
export const MS_REC = 16384
export const MS_PRIVATE = 1 << 18
export const MS_STRICTATIME = 1 << 24
export const MNT_DETACH = 2

export const CLONE_NEWNS = 0x00020000
export const CLONE_NEWCGROUP = 0x02000000
export const CLONE_NEWUTS = 0x04000000
export const CLONE_NEWIPC = 0x08000000
export const CLONE_NEWUSER = 0x10000000
export const CLONE_NEWPID = 0x20000000
export const CLONE_NEWNET = 0x40000000
