/**
 * Specs with every field set, as the library encodes them (lib/shim/spec.ts),
 * and what the shim must decode from them (native/spec.h's struct mc_spec, as
 * `mc-shim dump-spec` prints it). Values are chosen to catch a misread: 64-bit
 * capabilities, unlimited rlimits, quotes, backslashes, tabs, newlines and
 * UTF-8 in strings, a clone flag the encoder must drop.
 */
import { CLONE_NEWCGROUP } from '../../lib/sys/libc'
import { SHIM_PROTOCOL_VERSION } from '../../lib/shim/protocol'
import type { ExecSpec, OutputSpec, ProcessSpec, RunSpec } from '../../lib/shim/spec'

const seccompProgram = Buffer.from('200000000400000015000100' + '3e0000c006000000' + '0000ff7f', 'hex')

/** A process with every field set. */
export const fullProcess: ProcessSpec = {
  args: ['/bin/prog', 'two words', 'quote " backslash \\ tab \t newline \n é ✓'],
  env: ['PATH=/usr/bin:/bin', 'EMPTY=', 'X="y"'],
  cwd: '/work dir/é',
  uid: 1000,
  gid: 2147483647,
  additionalGids: [0, 50, 65534],
  capabilities: (1n << 40n) | (1n << 21n) | 1n,
  noNewPrivileges: true,
  seccomp: { program: seccompProgram, flags: 2 },
  rlimits: [
    { resource: 7, soft: 1024, hard: 4096 },
    { resource: 4, soft: -1, hard: -1 },
  ],
}

const cgroups = { joinFiles: ['/sys/fs/cgroup/mc/a b/cgroup.procs', '/sys/fs/cgroup/memory/mc/cgroup.procs'] }
const runCgroups = { ...cgroups, intoDir: '/sys/fs/cgroup/mc/a b', oomCounter: '/sys/fs/cgroup/mc/a b/memory.events' }
const cloneFlags = 0x7c020000 | CLONE_NEWCGROUP

/** A run spec with every field set, its output as given. */
export function fullRunSpec(output: OutputSpec): RunSpec {
  return {
    rootfs: { mergedDir: '/var/lib/mc/merged', lowerDirs: ['/layers/top', '/layers/base'], upperDir: '/var/lib/mc/upper', workDir: '/var/lib/mc/work', readOnly: true, volatile: true },
    mounts: [
      { kind: 'mount', type: 'tmpfs', source: 'tmpfs', target: '/tmp', flags: 0x406, data: 'mode=1777,size=65536k', extra: 1 | 2 | 4 | 8 },
      { kind: 'mount', type: 'bind', source: '/host/dir', target: '/data', flags: 0x5000 },
      { kind: 'mknod', target: '/dev/null', mode: 0o20666, major: 1, minor: 3, uid: 1234, gid: 5678 },
      { kind: 'symlink', linkTarget: '/proc/self/fd', target: '/dev/fd' },
      { kind: 'mask', target: '/proc/kcore' },
      { kind: 'sysctl', target: '/proc/sys/net/ipv4/ip_unprivileged_port_start', value: '0' },
      { kind: 'readonly', target: '/proc/sys' },
    ],
    process: fullProcess,
    cloneFlags,
    hostname: 'box-é',
    loopbackUp: true,
    netnsPath: '/proc/4242/fd/19',
    netnsLate: true, // every field: the shim's run refuses it beside netnsPath, its dump does not
    stdin: '/dev/null',
    output,
    init: true,
    detach: true,
    exitFile: '/var/lib/mc/exit',
    hold: true,
    prestart: true, // as netnsLate: refused beside hold by the run, not by the dump
    cgroups: runCgroups,
    userns: 'range',
    usernsPath: '/proc/4243/ns/user',
    nestedMaps: {
      uid: [
        [0, 1, 1000],
        [1000, 0, 1],
        [1001, 1001, 64536],
      ],
      gid: [[0, 1, 5]],
    },
  }
}

/** An exec spec with every field set. */
export const fullExecSpec: ExecSpec = { pid: 4242, joinFlags: 0x7c020000 | CLONE_NEWCGROUP, process: fullProcess, cgroups, userns: 'range' }

/** What `mc-shim dump-spec` prints of a spec (native/spec-dump.c). */
export interface DecodedSpec {
  protocol: number
  rootfs: string | null
  lowers: string[]
  upper: string | null
  work: string | null
  readonly_root: number
  volatile_upper: number
  clone_flags: number
  netns_late: number
  prestart: number
  netns_path: string | null
  stdio: (string | null)[]
  log_path: string | null
  log_max_size: number
  log_max_files: number
  detach: number
  exit_file: string | null
  init: number
  loopback_up: number
  hold: number
  legacy_mounts: number
  ops: { kind: number; type: string | null; source: string | null; target: string; flags: number; data: string | null; extra: number; mode: number; major: number; minor: number; uid: number; gid: number }[]
  hostname: string | null
  target_pid: number
  join_flags: number
  cwd: string | null
  uid: number
  gid: number
  groups: number[]
  caps: string
  no_new_privs: number
  seccomp: string | null
  seccomp_flags: number
  env: string[]
  argv: string[]
  rlimits: { resource: number; soft: string; hard: string }[]
  cgroup_procs: string[]
  cgroupns: number
  userns: number
  cgroup_dir: string | null
  oom_counter: string | null
  userns_path: string | null
  uid_maps: [number, number, number][]
  gid_maps: [number, number, number][]
}

const unlimited = (2n ** 64n - 1n).toString()

/** The process fields the shim must decode from {@link fullProcess}. */
const decodedProcess = {
  cwd: fullProcess.cwd,
  uid: 1000,
  gid: 2147483647,
  groups: [0, 50, 65534],
  caps: fullProcess.capabilities.toString(),
  no_new_privs: 1,
  seccomp: seccompProgram.toString('hex'),
  seccomp_flags: 2,
  env: fullProcess.env,
  argv: fullProcess.args,
  rlimits: [
    { resource: 7, soft: '1024', hard: '4096' },
    { resource: 4, soft: unlimited, hard: unlimited },
  ],
  cgroup_procs: cgroups.joinFiles,
  cgroupns: 1,
  userns: 2,
  cgroup_dir: null,
  oom_counter: null,
}

/** The fields a run spec leaves unset. */
const noRun = {
  rootfs: null, lowers: [], upper: null, work: null, readonly_root: 0, volatile_upper: 0, clone_flags: 0, netns_late: 0, prestart: 0, netns_path: null, stdio: [null, null, null], log_path: null,
  log_max_size: 0, log_max_files: 0, detach: 0, exit_file: null, init: 0, loopback_up: 0, hold: 0, legacy_mounts: 0, ops: [], hostname: null,
}

/** What the shim must decode from {@link fullRunSpec} (with mountFallbacks.force set: legacy_mounts). */
export function decodedRunSpec(output: OutputSpec): DecodedSpec {
  const log = 'log' in output ? output.log : undefined
  return {
    protocol: SHIM_PROTOCOL_VERSION,
    rootfs: '/var/lib/mc/merged',
    lowers: ['/layers/top', '/layers/base'],
    upper: '/var/lib/mc/upper',
    work: '/var/lib/mc/work',
    readonly_root: 1,
    volatile_upper: 1,
    clone_flags: cloneFlags & ~CLONE_NEWCGROUP, // the child enters the cgroup namespace after joining its cgroups
    netns_late: 1,
    prestart: 1,
    netns_path: '/proc/4242/fd/19',
    stdio: ['/dev/null', log ? null : (output as { stdout: string }).stdout, log ? null : (output as { stderr: string }).stderr],
    log_path: log?.path ?? null,
    log_max_size: log?.maxSize ?? 0,
    log_max_files: log?.maxFiles ?? 0,
    detach: 1,
    exit_file: '/var/lib/mc/exit',
    init: 1,
    loopback_up: 1,
    hold: 1,
    legacy_mounts: 1,
    ops: [
      { kind: 0, type: 'tmpfs', source: 'tmpfs', target: '/tmp', flags: 0x406, data: 'mode=1777,size=65536k', extra: 15, mode: 0, major: 0, minor: 0, uid: 0, gid: 0 },
      { kind: 0, type: 'bind', source: '/host/dir', target: '/data', flags: 0x5000, data: '', extra: 0, mode: 0, major: 0, minor: 0, uid: 0, gid: 0 },
      { kind: 1, type: null, source: null, target: '/dev/null', flags: 0, data: null, extra: 0, mode: 0o20666, major: 1, minor: 3, uid: 1234, gid: 5678 },
      { kind: 2, type: null, source: '/proc/self/fd', target: '/dev/fd', flags: 0, data: null, extra: 0, mode: 0, major: 0, minor: 0, uid: 0, gid: 0 },
      { kind: 3, type: null, source: null, target: '/proc/kcore', flags: 0, data: null, extra: 0, mode: 0, major: 0, minor: 0, uid: 0, gid: 0 },
      { kind: 5, type: null, source: null, target: '/proc/sys/net/ipv4/ip_unprivileged_port_start', flags: 0, data: '0', extra: 0, mode: 0, major: 0, minor: 0, uid: 0, gid: 0 },
      { kind: 4, type: null, source: null, target: '/proc/sys', flags: 0, data: null, extra: 0, mode: 0, major: 0, minor: 0, uid: 0, gid: 0 },
    ],
    hostname: 'box-é',
    target_pid: 0,
    join_flags: 0,
    ...decodedProcess,
    cgroup_dir: runCgroups.intoDir,
    oom_counter: runCgroups.oomCounter,
    userns_path: '/proc/4243/ns/user',
    uid_maps: [
      [0, 1, 1000],
      [1000, 0, 1],
      [1001, 1001, 64536],
    ],
    gid_maps: [[0, 1, 5]],
  }
}

/** What the shim must decode from {@link fullExecSpec}. */
export const decodedExecSpec: DecodedSpec = {
  protocol: SHIM_PROTOCOL_VERSION,
  ...noRun,
  target_pid: 4242,
  join_flags: 0x7c020000, // without CLONE_NEWCGROUP: joined by the child after its cgroups
  ...decodedProcess,
  userns_path: null,
  uid_maps: [],
  gid_maps: [],
}
