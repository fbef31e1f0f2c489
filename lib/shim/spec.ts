/**
 * What the shim is asked to do, as plain data, and its wire encoding.
 *
 * All policy lives here in TypeScript (which mounts, which capabilities);
 * native/ only carries it out. The encoding is a length-prefixed list of
 * NUL-terminated tokens, parsed by native/spec.c, led by the protocol
 * version (protocol.ts).
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import { CLONE_NEWCGROUP } from '../sys/libc'
import { protocolTokens } from './protocol'

/** Extra mount flags understood by the shim (native/spec.h). */
export const MountExtra = {
  /** The source is a path inside the container root, not on the host. */
  SourceInRoot: 1,
  /** Skip silently when the target does not exist. */
  Optional: 2,
  /** Create a missing target as a file rather than a directory. */
  File: 4,
  /** Make the mount read-only (recursively) once mounted. */
  ReadOnly: 8,
} as const

/** One step of building the container's filesystem view, executed in order inside its mount namespace. */
export type MountOp =
  | { kind: 'mount'; type: string; source: string; target: string; flags: number; data?: string; extra?: number }
  /** A device node, owned by uid:gid (root when absent); its parent directories are made, an existing path is kept. */
  | { kind: 'mknod'; target: string; mode: number; major: number; minor: number; uid?: number; gid?: number }
  | { kind: 'symlink'; linkTarget: string; target: string }
  /** Docker's masked path: a file is hidden behind /dev/null, a directory behind an empty read-only tmpfs. */
  | { kind: 'mask'; target: string }
  /** Docker's read-only path: bound onto itself read-only. */
  | { kind: 'readonly'; target: string }
  /** A namespaced kernel parameter (`--sysctl`): `value` written to its file under the container's /proc/sys (`target`). */
  | { kind: 'sysctl'; target: string; value: string }

/** The root filesystem: an overlay of image layers plus a writable upper dir. */
export interface RootfsSpec {
  /** Where the root is assembled (host path, only ever mounted in the container's namespace). */
  mergedDir: string
  /** Lower (read-only) dirs, top-most first. */
  lowerDirs: string[]
  upperDir: string
  workDir: string
  readOnly: boolean
  /**
   * Mount the overlay `volatile` (Linux 5.10+): its unmount skips syncing the upper dir's filesystem.
   * Only for a root never mounted again (a remount fails until work/work/incompat/volatile is removed),
   * whose writes need not survive a host crash; a kernel that refuses the option mounts without it.
   */
  volatile?: boolean
}

/** The process to run and its identity. */
export interface ProcessSpec {
  args: string[]
  env: string[]
  cwd: string
  uid: number
  gid: number
  additionalGids: number[]
  /** Capability bit set (bounding; also effective/permitted for uid 0). */
  capabilities: bigint
  noNewPrivileges: boolean
  /** A seccomp filter installed right before execve (lib/seccomp); none: unconfined. */
  seccomp?: SeccompFilter
  /** setrlimit calls made before the identity change (`--ulimit`); -1 is unlimited. */
  rlimits?: { resource: number; soft: number; hard: number }[]
}

/** A compiled seccomp filter: struct sock_filter[] and SECCOMP_FILTER_FLAG_* bits. */
export interface SeccompFilter {
  program: Buffer
  flags: number
}

/** The cgroups the process joins before anything else, then a cgroup namespace rooted there (run) or the container's (exec). */
export interface CgroupJoin {
  /** The files to write "0" into, one per hierarchy (CgroupDriver.joinFiles). */
  joinFiles: string[]
  /** cgroup v2, run: the cgroup's directory, which the shim clones the child into instead (CLONE_INTO_CGROUP). */
  intoDir?: string
  /**
   * Run: the file whose `oom_kill` line counts the cgroup's OOM kills (CgroupDriver.oomCounterFile). The
   * shim reads it as the program exits and says it with the exit ("X"): no read on Node's event loop,
   * where a cgroupfs read waits on the kernfs lock a burst's mkdirs and rmdirs hold.
   */
  oomCounter?: string
}

/** The shim's json-file log (native/logger.h): pipes for the program's stdout and stderr, copied into `path`. */
export interface LogSpec {
  path: string
  /** Rotate past this many bytes; 0: never. */
  maxSize: number
  /** Files kept, the current one included. */
  maxFiles: number
}

/** Files opened for appending as the program's stdout and stderr, or the shim's log. */
export type OutputSpec = { stdout: string; stderr: string } | { log: LogSpec }

function outputTokens(o: OutputSpec): string[] {
  if ('log' in o) return ['log', o.log.path, 'logmaxsize', String(o.log.maxSize), 'logmaxfiles', String(o.log.maxFiles)]
  return ['stdout', o.stdout, 'stderr', o.stderr]
}

/** Everything `mc-shim run` needs. */
export interface RunSpec {
  rootfs: RootfsSpec
  mounts: MountOp[]
  process: ProcessSpec
  cloneFlags: number
  hostname?: string
  /** Bring up `lo` inside (own network namespace made by the shim). */
  loopbackUp: boolean
  /** Join an existing network namespace (made and configured by the network layer), e.g. /proc/<pid>/fd/<n>. */
  netnsPath?: string
  /**
   * Join a network namespace whose path comes after the spec ({@link encodeLateNetns}), so that the
   * network layer makes the container's endpoint while the shim clones and mounts. The child joins
   * it before its first sysfs mount or sysctl, and before pivot_root at the latest. Not with
   * `netnsPath`, a user namespace or `hold`.
   */
  netnsLate?: boolean
  /** The file opened as the program's stdin. */
  stdin: string
  /** Where its stdout and stderr go. */
  output: OutputSpec
  init: boolean
  detach: boolean
  exitFile: string
  /** Assemble the filesystem view and wait instead of running the process (file access to stopped containers). */
  hold?: boolean
  /**
   * Pre-start: set everything up but the process, say "R" (Shim.prestarted), and take the process
   * from the claim that follows ({@link encodeClaim}); `process` is then a placeholder. With
   * `netnsLate`, everything up to the first use of the network namespace, which the claim names. Not with `hold`.
   */
  prestart?: boolean
  /** Join these cgroups, then unshare the cgroup namespace (instead of cloning it, which would root it in the shim's cgroup). */
  cgroups?: CgroupJoin
  /**
   * Rootless: the container is cloned into a user namespace and its overlay mounted with userxattr.
   * 'single': the shim makes one mapping root inside to the caller's own uid and gid alone (no helper
   * needed); 'range': it joins {@link usernsPath}, the runtime keeper's, mapped once with the caller's
   * subordinate ranges.
   */
  userns?: UsernsKind
  /** With `userns: 'range'`: the user namespace to join, /proc/<keeper pid>/ns/user. */
  usernsPath?: string
  /**
   * keep-id: the container is cloned into a user namespace of its own nested in the joined one
   * (`cloneFlags` then holds CLONE_NEWUSER), whose maps the shim writes before the child goes on.
   */
  nestedMaps?: NestedMaps
}

/** A nested user namespace's maps: lines of [inside, outside (in the parent namespace), count]. */
export interface NestedMaps {
  uid: readonly (readonly [number, number, number])[]
  gid: readonly (readonly [number, number, number])[]
}

/**
 * A rootless container's user namespace: 'single' maps root inside to the caller alone (setgroups
 * denied there); 'range' is the runtime keeper's, with the caller's subordinate ids mapped too.
 */
export type UsernsKind = 'single' | 'range'

/** Everything `mc-shim exec` needs. */
export interface ExecSpec {
  pid: number
  joinFlags: number
  process: ProcessSpec
  /** Join the container's cgroups, then its cgroup namespace (left out of `joinFlags`). */
  cgroups?: CgroupJoin
  /** The container runs in a user namespace (rootless; `joinFlags` then holds CLONE_NEWUSER), and which kind: no setgroups in a 'single' one. */
  userns?: UsernsKind
}

/** The shim's `userns` values (native/spec.h's MC_USERNS_SINGLE and MC_USERNS_RANGE). */
const usernsValues: Record<UsernsKind, string> = { single: '1', range: '2' }

/** The shim's `userns` and `usernspath` keys, for run and exec specs alike. */
function usernsTokens(userns: UsernsKind | undefined, path?: string): string[] {
  if (!userns) return []
  return path ? ['userns', usernsValues[userns], 'usernspath', path] : ['userns', usernsValues[userns]]
}

function processTokens(p: ProcessSpec): string[] {
  const t = ['cwd', p.cwd, 'uid', String(p.uid), 'gid', String(p.gid), 'caps', p.capabilities.toString(), 'nnp', p.noNewPrivileges ? '1' : '0']
  if (p.seccomp) t.push('seccomp', p.seccomp.program.toString('hex'), 'seccompflags', String(p.seccomp.flags))
  for (const g of p.additionalGids) t.push('group', String(g))
  for (const e of p.env) t.push('env', e)
  for (const a of p.args) t.push('arg', a)
  for (const r of p.rlimits ?? []) t.push('rlimit', String(r.resource), String(r.soft), String(r.hard))
  return t
}

/** With cgroups to join, the shim's child enters the cgroup namespace itself, after joining them. */
function withoutCgroupns(flags: number, c: CgroupJoin | undefined): number {
  return c ? flags & ~CLONE_NEWCGROUP : flags
}

/** The cgroups to join, and the order that follows: join, then the cgroup namespace. */
function cgroupTokens(c: CgroupJoin | undefined): string[] {
  if (!c) return []
  return [...c.joinFiles.flatMap((f) => ['cgroup', f]), ...(c.intoDir ? ['cgroupdir', c.intoDir] : []), ...(c.oomCounter ? ['oomcounter', c.oomCounter] : []), 'cgroupns', '1']
}

function mountTokens(op: MountOp): string[] {
  switch (op.kind) {
    case 'mount':
      return ['mount', op.type, op.source, op.target, String(op.flags), op.data ?? '', String(op.extra ?? 0)]
    case 'mknod':
      return ['mknod', op.target, String(op.mode), String(op.major), String(op.minor), String(op.uid ?? 0), String(op.gid ?? 0)]
    case 'symlink':
      return ['symlink', op.linkTarget, op.target]
    case 'mask':
      return ['mask', op.target]
    case 'readonly':
      return ['ropath', op.target]
    case 'sysctl':
      return ['sysctl', op.target, op.value]
  }
}

/** A message of NUL-terminated tokens after its length (uint32): the spec, or what follows it. */
function frame(tokens: string[]): Buffer {
  for (const t of tokens)
    if (t.includes('\0')) throw new InvalidArgumentError(`${JSON.stringify(t)} contains a NUL byte, which a command, argument, environment variable or path cannot carry; remove it`)
  const body = Buffer.from(tokens.join('\0') + '\0')
  const header = Buffer.alloc(4)
  header.writeUInt32LE(body.length)
  return Buffer.concat([header, body])
}

function encode(tokens: string[]): Buffer {
  return frame([...protocolTokens, ...tokens])
}

/**
 * The message after a spec with {@link RunSpec.netnsLate}: the network namespace's path (e.g.
 * /proc/<our pid>/fd/<n>), which the shim's child joins before its first mount that needs it.
 */
export function encodeLateNetns(path: string): Buffer {
  return frame(['netnspath', path])
}

/**
 * The message that claims a pre-started container ({@link RunSpec.prestart}): its process and
 * hostname, which the child takes instead of the spec's before it execs, and with
 * {@link RunSpec.netnsLate} the network namespace to join (it waits for its claim before its first use of one).
 */
export function encodeClaim(process: ProcessSpec, hostname: string | undefined, netnsPath?: string): Buffer {
  return frame([...processTokens(process), ...(hostname ? ['hostname', hostname] : []), ...(netnsPath ? ['netnspath', netnsPath] : [])])
}

/**
 * An encoded spec as `NODE_DEBUG=minicontainer` prints it: its tokens
 * separated by spaces, the values of the `hiddenEnv` entries (a build's
 * secrets given as env) replaced by `<redacted>`, their names kept.
 */
export function specDebugText(spec: Buffer, hiddenEnv: readonly string[] = []): string {
  const hidden = new Set(hiddenEnv)
  const tokens = spec.subarray(4).toString('utf8').replace(/\0$/, '').split('\0')
  return tokens.map((t) => (hidden.has(t) ? `${t.slice(0, t.indexOf('=') + 1)}<redacted>` : t)).join(' ')
}

/**
 * Test-only switch: when `force` is set, every run spec asks the shim for
 * the fallbacks of kernels without the new mount API (the overlay option
 * string instead of fsconfig "lowerdir+", before 6.8; a read-only remount
 * instead of mount_setattr, before 5.12), so tests on a new kernel still
 * exercise them.
 * @internal
 */
export const mountFallbacks = { force: false }

/** Encodes a run spec for `mc-shim run`. */
export function encodeRunSpec(s: RunSpec): Buffer {
  const t = ['rootfs', s.rootfs.mergedDir, 'upper', s.rootfs.upperDir, 'work', s.rootfs.workDir, 'readonly', s.rootfs.readOnly ? '1' : '0']
  if (s.rootfs.volatile) t.push('volatile', '1')
  for (const l of s.rootfs.lowerDirs) t.push('lower', l)
  t.push(...cgroupTokens(s.cgroups), ...usernsTokens(s.userns, s.usernsPath))
  t.push('clone', String(withoutCgroupns(s.cloneFlags, s.cgroups)), 'lo', s.loopbackUp ? '1' : '0', 'init', s.init ? '1' : '0')
  t.push('detach', s.detach ? '1' : '0')
  if (s.exitFile) t.push('exitfile', s.exitFile)
  if (s.hold) t.push('hold', '1')
  if (s.prestart) t.push('prestart', '1')
  if (mountFallbacks.force) t.push('legacymounts', '1')
  if (s.hostname) t.push('hostname', s.hostname)
  if (s.netnsPath !== undefined) t.push('netnspath', s.netnsPath)
  if (s.netnsLate) t.push('netnslate', '1')
  for (const [key, lines] of [['uidmap', s.nestedMaps?.uid ?? []], ['gidmap', s.nestedMaps?.gid ?? []]] as const) for (const l of lines) t.push(key, ...l.map(String))
  t.push('stdin', s.stdin, ...outputTokens(s.output))
  for (const op of s.mounts) t.push(...mountTokens(op))
  t.push(...processTokens(s.process))
  return encode(t)
}

/** Encodes an exec spec for `mc-shim exec`. */
export function encodeExecSpec(s: ExecSpec): Buffer {
  return encode(['pid', String(s.pid), 'join', String(withoutCgroupns(s.joinFlags, s.cgroups)), ...cgroupTokens(s.cgroups), ...usernsTokens(s.userns), ...processTokens(s.process)])
}
