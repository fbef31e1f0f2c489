/**
 * The keeper: `mc-shim keeper` (native/keeper.c), one per rootless runtime
 * with subordinate ids, holding the user namespace every container of the
 * runtime joins. The kernel lets only setuid helpers write a map of ids
 * other than one's own, so newuidmap and newgidmap (the only programs the
 * library runs) map it here, once: podman's layout, 0 -> the user and
 * 1..N -> its subordinate ranges. Joining a held namespace costs a setns per
 * start, where running the helpers per start cost 3.5-8 ms (the design note).
 *
 * The channel is synchronous on purpose: requests are rare (start-up, one
 * ownership pass per layer unpacked, a removal), each is answered before the
 * next, and a blocking socket keeps no handle in the event loop: the keeper
 * never holds a process open. It ends when its socket closes: {@link Keeper.close},
 * or the death of this process (PDEATHSIG backs that up).
 *
 * @module
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import { StartError, SyscallError, errnoOf } from '../errors'
import { spawnShimMode } from '../shim/mode-process'
import { closeQuietly, errnoName, waitPid, WNOHANG } from '../sys/libc'
import { MC_OWNER, nameStr, type Name } from '../sys/fsops'
import { openEachMax } from '../files/source-reads'
import { receiveFds, sendWithFds, type ReceivedMessage } from '../sys/sockets'
import { debug } from '../util/debug'
import type { IdMaps } from './id-maps'

/** The error of a refused request, from the keeper's errno name and detail. */
type Failure = (errno: string, detail: string) => Error

/** A failure to start the keeper: a container start fails with it (ESTART, naming the step). */
const startError =
  (step: string): Failure =>
  (errno, detail) =>
    new StartError(step, errno, detail)

/** A failure of file work: the call, its errno and the keeper's detail (ESYSCALL). */
const fileError =
  (call: string, path: string): Failure =>
  (errno, detail) =>
    new SyscallError(`${call} (in the runtime's user namespace: ${detail})`, errno, path)

/** How long a request answered with fds (mknetns, netlink) may take: an unshare or a setns, and an open. */
const fdAnswerTimeoutMs = 5000

/** The error of an answer with fds that is not the one asked for (its fds closed): the keeper's refusal, or what it said, or its silence. */
function refusal(msg: ReceivedMessage | null, fail: Failure): Error {
  msg?.fds.forEach(closeQuietly)
  const failed = /^E (\d+)\t(.*)$/.exec(msg?.text.trim() ?? '')
  if (failed) return fail(errnoName(Number(failed[1])), failed[2]!)
  return fail(msg ? 'EPIPE' : 'ETIMEDOUT', msg ? `the runtime keeper said ${JSON.stringify(msg.text)}` : `the runtime keeper did not answer within ${fdAnswerTimeoutMs} ms`)
}

/** A name as a NUL-terminated request field (its bytes: names need not be UTF-8). */
const field = (name: Name): Buffer => Buffer.concat([Buffer.isBuffer(name) ? name : Buffer.from(name), Buffer.from([0])])

/** A keeper process and its control socket. */
export class Keeper {
  private constructor(
    /** The keeper's pid (our child, unreaped while it runs: the pid names it alone). */
    readonly pid: number,
    private fd: number,
  ) {}

  /** The path a container's shim joins: the keeper's user namespace. */
  get usernsPath(): string {
    return `/proc/${this.pid}/ns/user`
  }

  /** The runtime's network namespace once {@link Keeper.holdNetns} made it (owned by {@link Keeper.usernsPath}). */
  get netnsPath(): string {
    return `/proc/${this.pid}/ns/net`
  }

  /** Has the keeper unshare the runtime's network namespace, inside its user namespace (lo up); once, later calls find it. */
  holdNetns(): void {
    if (this.hasNetns) return
    this.request([Buffer.from('netns\0')], startError('netns'))
    this.hasNetns = true
  }

  /** Whether it made the runtime's network namespace ({@link Keeper.holdNetns}): networks may be in it. */
  get heldNetns(): boolean {
    return this.hasNetns
  }

  private hasNetns = false

  /** A new network namespace for a container, owned by the keeper's user namespace (after {@link Keeper.holdNetns}); the caller owns the fd. */
  newNetns(): number {
    return this.requestFds([Buffer.from('mknetns\0')], 1, startError('netns'))[0]!
  }

  /**
   * rtnetlink and nf_tables sockets (in that order; the caller owns them) of the runtime's network namespace
   * (after {@link Keeper.holdNetns}), or of the namespace `netnsFd` (sent along), which the keeper's user namespace owns.
   */
  netlink(netnsFd?: number): [number, number] {
    return this.requestFds([Buffer.from('netlink\0')], 2, startError('netns'), netnsFd) as [number, number]
  }

  /** Spawns a keeper, has newuidmap/newgidmap write `maps` on it, and checks that root inside is the caller. */
  static start(maps: IdMaps): Keeper {
    const { pid, control: fd } = spawnShimMode(['keeper', String(process.pid)], [])
    const keeper = new Keeper(pid, fd)
    try {
      keeper.expect('R', startError('userns'))
      keeper.runHelper(maps.uidHelper, maps.uid)
      keeper.runHelper(maps.gidHelper, maps.gid)
      keeper.request([Buffer.from('mapped\0')], startError('idmap'))
    } catch (err) {
      keeper.close()
      throw err
    }
    debug('keeper %d holds a user namespace: uid map %j, gid map %j', pid, maps.uid, maps.gid)
    return keeper
  }

  /** Gives the entries below `dir` the owners of `manifest` (OwnerLedger.manifest()); returns how many. */
  chown(dir: string, manifest: Buffer): number {
    return Number(this.request([Buffer.from(`chown\0${dir}\0`), manifest], fileError('chown', dir)))
  }

  /** Removes `path` and everything below it, as root of the namespace (files of every mapped id). */
  removeTree(path: string): void {
    this.request([Buffer.from(`rmtree\0${path}\0`)], fileError('rmtree', path))
  }

  /** mkdirat(dirfd, name, mode) as root of the namespace (dirfd resolved by the caller, confined; `name` a single component). */
  mkdirAt(dirfd: number, name: Name, mode: number): void {
    this.request([Buffer.from('mkdirat\0'), field(name), Buffer.from(`${mode.toString(8)}\0`)], fileError('mkdirat', nameStr(name)), [dirfd])
  }

  /** unlinkat(dirfd, name, AT_REMOVEDIR) as root of the namespace. */
  rmdirAt(dirfd: number, name: Name): void {
    this.request([Buffer.from('rmdirat\0'), field(name)], fileError('rmdirat', nameStr(name)), [dirfd])
  }

  /** renameat2(fromDir, from, toDir, to, flags) as root of the namespace. */
  renameAt(fromDir: number, from: Name, toDir: number, to: Name, flags: number): void {
    this.request([Buffer.from('renameat\0'), field(from), field(to), Buffer.from(`${flags}\0`)], fileError('renameat2', nameStr(to)), [fromDir, toDir])
  }

  /** The regular file or directory `name` of `dirfd` opened for reading as root of the namespace (another id's inside); the caller owns the fd. */
  openRead(dirfd: number, name: Name): number {
    return this.requestFds([Buffer.from('openread\0'), field(name)], 1, fileError('open', nameStr(name)), dirfd)[0]!
  }

  /** The regular file `name` of `dirfd` (not followed) opened for writing and truncated as root of the namespace (a bind-mounted file of another id a copy rewrites); the caller owns the fd. */
  openWrite(dirfd: number, name: Name): number {
    return this.requestFds([Buffer.from('openwrite\0'), field(name)], 1, fileError('open', nameStr(name)), dirfd)[0]!
  }

  /** `name` of `dirfd` itself (O_PATH, a symlink not followed), opened as root of the namespace; the caller owns the fd. */
  openPath(dirfd: number, name: Name): number {
    return this.requestFds([Buffer.from('openpath\0'), field(name)], 1, fileError('open', nameStr(name)), dirfd)[0]!
  }

  /**
   * `path` resolved by the keeper confined below the container (or layer) root `rootfd` (RESOLVE_IN_ROOT), O_PATH (`flags`:
   * O_NOFOLLOW, O_DIRECTORY); `how.noSymlinks`: no symlink followed at all (RESOLVE_NO_SYMLINKS), `how.read`: a regular file or
   * directory opened for reading instead. The caller owns the fd.
   */
  openIn(rootfd: number, path: string, flags: number, how: { noSymlinks?: boolean; read?: boolean } = {}): number {
    const opts = `${how.noSymlinks ? 's' : ''}${how.read ? 'r' : ''}`
    return this.requestFds([Buffer.from(`openin\0${path}\0${flags}\0${opts ? `${opts}\0` : ''}`)], 1, fileError('openat2', path), rootfd)[0]!
  }

  /**
   * Each single name of the directory `dirfd` opened as root of the namespace, never following a symlink (at most
   * {@link openEachMax}): O_PATH, or (`read`) a regular file or directory for reading. Per name its fd (the caller owns
   * it), undefined when it does not exist, or 'refused' (open that one alone for its error).
   */
  openEach(dirfd: number, names: Name[], read: boolean): (number | undefined | 'refused')[] {
    const fail = fileError('openat', nameStr(names[0] ?? ''))
    this.send([Buffer.from(`openeach\0${read ? 'r' : 'p'}\0`), ...names.map(field)], fail, [dirfd])
    const msg = receiveFds(this.fd, openEachMax, fdAnswerTimeoutMs)
    const marks = /^OK ([-+!]*)\n$/.exec(msg?.text ?? '')?.[1]
    const fds = [...(msg?.fds ?? [])]
    if (marks?.length === names.length && fds.length === [...marks].filter((m) => m === '+').length) return [...marks].map((m) => (m === '+' ? fds.shift()! : m === '-' ? undefined : 'refused'))
    throw refusal(msg, fail)
  }

  /** Owner (with MC_OWNER in `flags`), mode and times of the open `srcfd` given to the open `dstfd` as root of the namespace (a merge into a directory of another id). */
  copyMeta(srcfd: number, dstfd: number, flags: number): void {
    this.request([Buffer.from(`copymeta\0${flags & MC_OWNER ? 1 : 0}\0`)], fileError('copymeta', `fd ${dstfd}`), [srcfd, dstfd])
  }

  /** The owners `manifest` records (OwnerLedger.manifest) given to the entries below the open directory `dirfd` (a putArchive's landing directory), each resolved beneath it with no symlink followed; how many. */
  chownAt(dirfd: number, manifest: Buffer): number {
    return Number(this.request([Buffer.from('chownat\0'), manifest], fileError('chown', '(landing directory)'), [dirfd]))
  }

  /** `name` in the open directory `dirfd` and everything below it removed as root of the namespace (another id's directory a copy replaced). */
  removeTreeAt(dirfd: number, name: Name): void {
    this.request([Buffer.from('rmtreeat\0'), field(name)], fileError('rmtreeat', nameStr(name)), [dirfd])
  }

  /** The user.* attribute `name` of the open file `fd` read as root of the namespace (another id's, which only it may read); undefined when unset. */
  getXattr(fd: number, name: string): Buffer | undefined {
    try {
      return Buffer.from(this.request([Buffer.from(`getxattr\0${name}\0`)], fileError('fgetxattr', name), [fd]), 'hex')
    } catch (err) {
      if (errnoOf(err) === 'ENODATA') return undefined
      throw err
    }
  }

  /** The user.* attribute `name` of the open file `fd` set to `value` as root of the namespace (a directory of another id, or one its mode leaves unwritable). */
  setXattr(fd: number, name: string, value: Buffer): void {
    this.request([Buffer.from(`setxattr\0${name}\0${value.toString('hex')}\0`)], fileError('fsetxattr', name), [fd])
  }

  /** Whether the keeper still runs (it may have been killed: then it is reaped here, and a new one is needed). */
  get alive(): boolean {
    if (this.fd < 0) return false
    try {
      if (waitPid(this.pid, WNOHANG) === null) return true
    } catch {
      /* reaped elsewhere */
    }
    closeQuietly(this.fd)
    this.fd = -1
    return false
  }

  /** Closes the channel: the keeper exits, and is reaped. The namespace lives on in running containers. */
  close(): void {
    if (this.fd < 0) return
    closeQuietly(this.fd)
    this.fd = -1
    try {
      waitPid(this.pid) // it was blocked reading the channel: EOF ends it at once
    } catch {
      /* reaped already */
    }
  }

  /** newuidmap/newgidmap `<pid> <inside> <outside> <count>...`: a failure says which and why (its stderr). */
  private runHelper(helper: string, lines: readonly (readonly [number, number, number])[]): void {
    try {
      execFileSync(helper, [String(this.pid), ...lines.flat().map(String)], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 })
    } catch (err) {
      const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim()
      throw startError('idmap')('EPERM', `${helper} ${this.pid} ${lines.flat().join(' ')}: ${stderr || (err as Error).message}`)
    }
  }

  /** Sends one request whose "OK\n" carries `count` fds (SCM_RIGHTS), and returns them; `fail` of the keeper's refusal. */
  private requestFds(parts: Buffer[], count: number, fail: Failure, withFd?: number): number[] {
    this.send(parts, fail, withFd === undefined ? [] : [withFd])
    // One message: receiveFds waits in poll (the keeper answers within a millisecond or two).
    const msg = receiveFds(this.fd, count, fdAnswerTimeoutMs)
    if (msg?.text === 'OK\n' && msg.fds.length === count) return msg.fds
    throw refusal(msg, fail)
  }

  /** Sends one request (NUL-terminated fields, after a little-endian length; `fds` along with it) and returns its answer's detail. */
  private request(parts: Buffer[], fail: Failure, fds: number[] = []): string {
    this.send(parts, fail, fds)
    return this.expect('OK', fail)
  }

  /** Writes one request; `fds` (at most two) go along with it (SCM_RIGHTS), for the keeper to use during that request. */
  private send(parts: Buffer[], fail: Failure, fds: number[] = []): void {
    if (this.fd < 0) throw fail('EPIPE', 'the runtime keeper was closed')
    const body = Buffer.concat(parts)
    const header = Buffer.alloc(4)
    header.writeUInt32LE(body.length)
    const message = Buffer.concat([header, body])
    if (fds.length) return sendWithFds(this.fd, message, fds)
    for (let off = 0; off < message.length; ) off += fs.writeSync(this.fd, message, off)
  }

  /** Reads the keeper's next line: its detail when it starts with `word`, else `fail` of the keeper's "E <errno>\t<detail>". */
  private expect(word: string, fail: Failure): string {
    const line = this.readLine()
    if (line === word) return ''
    if (line.startsWith(`${word} `)) return line.slice(word.length + 1)
    const failed = /^E (\d+)\t(.*)$/.exec(line)
    if (failed) throw fail(errnoName(Number(failed[1])), failed[2])
    throw fail('EPIPE', line ? `the runtime keeper said ${JSON.stringify(line)}` : 'the runtime keeper exited')
  }

  private readLine(): string {
    const bytes: number[] = []
    const one = Buffer.alloc(1)
    // Byte by byte: answers are short, and nothing past the line may be consumed.
    while (fs.readSync(this.fd, one, 0, 1, null) === 1) {
      if (one[0] === 0x0a) return Buffer.from(bytes).toString()
      bytes.push(one[0])
    }
    return Buffer.from(bytes).toString()
  }
}
