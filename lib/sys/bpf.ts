/**
 * The bpf(2) calls that put a device program on a cgroup (cgroup v2's
 * device control): load a BPF_PROG_TYPE_CGROUP_DEVICE program, attach it to
 * a cgroup directory. glibc has no wrapper, so it is syscall(2).
 *
 * @module
 */
import { SyscallError } from '../errors'
import koffi from './koffi'
import type { TypeObject } from 'koffi'
import { errnoName } from './libc'

const libc = koffi.load('libc.so.6')
const syscall = libc.func('long syscall(long number, ...)')

/** __NR_bpf (asm/unistd_64.h, asm-generic/unistd.h). */
const bpfNumbers: Partial<Record<NodeJS.Architecture, number>> = { x64: 321, arm64: 280 }

// linux/bpf.h
const BPF_PROG_LOAD = 5
const BPF_PROG_ATTACH = 8
const BPF_PROG_TYPE_CGROUP_DEVICE = 15
const BPF_CGROUP_DEVICE = 6
/** Keeps the programs of ancestor cgroups running too, and lets a cgroup hold several. */
const BPF_F_ALLOW_MULTI = 2

/** The head of union bpf_attr for BPF_PROG_LOAD, up to expected_attach_type (the kernel zero-fills the rest). */
const ProgLoadAttr = koffi.struct({
  prog_type: 'uint32',
  insn_cnt: 'uint32',
  insns: 'void *',
  license: 'const char *',
  log_level: 'uint32',
  log_size: 'uint32',
  log_buf: 'void *',
  kern_version: 'uint32',
  prog_flags: 'uint32',
  prog_name: koffi.array('char', 16),
  prog_ifindex: 'uint32',
  expected_attach_type: 'uint32',
})

/** union bpf_attr for BPF_PROG_ATTACH, up to replace_bpf_fd. */
const ProgAttachAttr = koffi.struct({
  target_fd: 'uint32',
  attach_bpf_fd: 'uint32',
  attach_type: 'uint32',
  attach_flags: 'uint32',
  replace_bpf_fd: 'uint32',
})

/** How many times a load is tried while signals interrupt the verifier. */
const loadTries = 20

/** Verifier messages kept when a load fails (they say which instruction it refused). */
const logSize = 4096

function bpf(cmd: number, type: TypeObject, attr: object, what: string): number {
  const nr = bpfNumbers[process.arch]
  if (nr === undefined) throw new SyscallError(what, 'ENOSYS', `bpf(2) on ${process.arch}`)
  const r = Number(syscall(nr, 'int', cmd, koffi.pointer(type), attr, 'uint', koffi.sizeof(type)))
  if (r < 0) throw new SyscallError(what, errnoName(koffi.errno()))
  return r
}

/**
 * Loads without the verifier's log, again when it gave up because a signal was pending (EAGAIN: any
 * signal Node handles, a shim's SIGCHLD as often as not, while the verifier runs), as libbpf does.
 */
function loadInterruptible(attr: object): number {
  for (let tries = 1; ; tries++)
    try {
      return bpf(BPF_PROG_LOAD, ProgLoadAttr, attr, 'bpf(BPF_PROG_LOAD) of the device program')
    } catch (err) {
      if (!(err instanceof SyscallError && (err.errno === 'EAGAIN' || err.errno === 'EWOULDBLOCK')) || tries >= loadTries) throw err
    }
}

/**
 * Loads a cgroup device program (`insns`: encoded eBPF instructions) and
 * returns its fd. A refusal by the verifier carries its last message.
 */
export function loadDeviceProgram(insns: Buffer, license: string): number {
  const log = Buffer.alloc(logSize)
  const attr = {
    prog_type: BPF_PROG_TYPE_CGROUP_DEVICE, insn_cnt: insns.length / 8, insns, license,
    log_level: 0, log_size: 0, log_buf: null, kern_version: 0, prog_flags: 0, prog_name: 'mc_devices',
    prog_ifindex: 0, expected_attach_type: BPF_CGROUP_DEVICE,
  }
  try {
    return loadInterruptible(attr)
  } catch (err) {
    if (!(err instanceof SyscallError) || err.errno !== 'EINVAL' && err.errno !== 'EACCES') throw err
    // Again with the verifier's log, to say why (only on failure: the log costs time).
    try {
      bpf(BPF_PROG_LOAD, ProgLoadAttr, { ...attr, log_level: 1, log_size: logSize, log_buf: log }, 'bpf(BPF_PROG_LOAD)')
    } catch {
      /* the log is what we wanted */
    }
    const why = log.toString('utf8', 0, Math.max(0, log.indexOf(0))).trim().split('\n').slice(-2).join('; ')
    throw new SyscallError('bpf(BPF_PROG_LOAD) of the device program', err.errno, why || undefined)
  }
}

/** Attaches a loaded device program to the cgroup whose directory `cgroupFd` is open on. */
export function attachDeviceProgram(cgroupFd: number, programFd: number): void {
  const attr = { target_fd: cgroupFd, attach_bpf_fd: programFd, attach_type: BPF_CGROUP_DEVICE, attach_flags: BPF_F_ALLOW_MULTI, replace_bpf_fd: 0 }
  bpf(BPF_PROG_ATTACH, ProgAttachAttr, attr, 'bpf(BPF_PROG_ATTACH) of the device program')
}
