/**
 * The seccomp compiler as pure logic: compiled programs are run through a
 * BPF interpreter (bpf-emulator.ts) and compared with what Docker's profile
 * says, call by call.
 */
import { dockerDefaultProfile } from '../../lib/seccomp'
import { syscallTable, type NativeArch, type SeccompArch } from '../../lib/seccomp/arch'
import { compileProfile } from '../../lib/seccomp/compile'
import { parseProfile, type SeccompProfile } from '../../lib/seccomp/profile'
import { selectRules } from '../../lib/seccomp/select'
import { capabilityNames, capabilitySet } from '../../lib/shim/capabilities'
import { AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, RET_ALLOW, RET_KILL_PROCESS, retErrno, runFilter } from './bpf-emulator'

const EPERM = 1
const ENOSYS = 38
const auditOf: Record<SeccompArch, number> = { x86_64: AUDIT_ARCH_X86_64, i386: AUDIT_ARCH_I386, aarch64: AUDIT_ARCH_AARCH64 }
const defaultCaps = capabilityNames(capabilitySet({}))

function compile(profile: SeccompProfile, opts: { caps?: string[]; arch?: NativeArch; kernel?: string } = {}) {
  const filter = compileProfile(profile, { capabilities: opts.caps ?? defaultCaps, arch: opts.arch ?? 'x86_64', kernel: opts.kernel ?? '6.18.0' })
  /** The filter's answer for a call by name on an architecture. */
  const call = (name: string, args: (number | bigint)[] = [], arch: SeccompArch = opts.arch ?? 'x86_64') => {
    const nr = syscallTable(arch).get(name)
    if (nr === undefined) throw new Error(`${name} has no number on ${arch}`)
    return runFilter(filter.program, { nr, arch: auditOf[arch], args: args.map(BigInt) })
  }
  return { filter, call }
}

const CLONE_NEWNS = 0x20000, CLONE_NEWCGROUP = 0x02000000, CLONE_NEWUTS = 0x04000000, CLONE_NEWIPC = 0x08000000
const CLONE_NEWUSER = 0x10000000, CLONE_NEWPID = 0x20000000, CLONE_NEWNET = 0x40000000
const namespaceFlags = [CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET]
// What fork() and pthread_create() pass.
const forkFlags = 0x01200011
const threadFlags = 0x003d0f00

describe("Docker's default profile, default capabilities", () => {
  const { filter, call } = compile(dockerDefaultProfile())

  test('ordinary calls are allowed', () => {
    for (const name of ['read', 'write', 'openat', 'mmap', 'execve', 'futex', 'epoll_wait', 'mkdir', 'setresuid', 'capset', 'prctl', 'close_range', 'wait4'])
      expect([name, call(name)]).toEqual([name, RET_ALLOW])
  })

  test('namespace, mount, key, bpf and perf calls get EPERM', () => {
    for (const name of ['unshare', 'setns', 'mount', 'umount2', 'pivot_root', 'keyctl', 'add_key', 'request_key', 'bpf', 'perf_event_open', 'fsopen', 'open_by_handle_at', 'reboot', 'init_module', 'syslog', 'acct', 'settimeofday', 'kcmp'])
      expect([name, call(name)]).toEqual([name, retErrno(EPERM)])
  })

  test('clone: allowed without namespace flags, EPERM with any of them', () => {
    expect(call('clone', [forkFlags])).toBe(RET_ALLOW)
    expect(call('clone', [threadFlags])).toBe(RET_ALLOW)
    for (const flag of namespaceFlags) expect([flag, call('clone', [forkFlags | flag])]).toEqual([flag, retErrno(EPERM)])
    // The high word of the 64-bit argument does not hide a flag.
    expect(call('clone', [(1n << 32n) | BigInt(CLONE_NEWUSER)])).toBe(retErrno(EPERM))
  })

  test('clone3 answers ENOSYS so that libc falls back to clone', () => {
    expect(call('clone3')).toBe(retErrno(ENOSYS))
  })

  test('socket: every family but AF_ALG (38) and AF_VSOCK (40)', () => {
    for (const family of [1, 2, 10, 16, 17, 37, 39, 41, 44]) expect([family, call('socket', [family])]).toEqual([family, RET_ALLOW])
    for (const family of [38, 40]) expect([family, call('socket', [family])]).toEqual([family, retErrno(EPERM)])
  })

  test('personality: only the values Docker lists', () => {
    for (const v of [0, 8, 0x20000, 0x20008, 0xffffffff]) expect([v, call('personality', [v])]).toEqual([v, RET_ALLOW])
    for (const v of [1, 0x0040000, 0x0200000, 0x1_0000_0000]) expect([v, call('personality', [v])]).toEqual([v, retErrno(EPERM)])
  })

  test('ptrace is allowed from kernel 4.8 (minKernel), refused before', () => {
    expect(call('ptrace')).toBe(RET_ALLOW)
    expect(compile(dockerDefaultProfile(), { kernel: '4.4.0-200-generic' }).call('ptrace')).toBe(retErrno(EPERM))
  })

  test('numbers past the table get ENOSYS, x32 calls get ENOSYS, other architectures are killed', () => {
    const run = (nr: number, arch: number) => runFilter(filter.program, { nr, arch })
    expect(run(1000, AUDIT_ARCH_X86_64)).toBe(retErrno(ENOSYS))
    expect(run(0x40000000 + 0, AUDIT_ARCH_X86_64)).toBe(retErrno(ENOSYS)) // x32 read
    expect(run(0xffffffff, AUDIT_ARCH_X86_64)).toBe(retErrno(ENOSYS)) // nr -1
    expect(run(0, AUDIT_ARCH_AARCH64)).toBe(RET_KILL_PROCESS)
    expect(run(0, 0x40000028)).toBe(RET_KILL_PROCESS) // arm
  })

  test('i386 compat calls are filtered with i386 numbers', () => {
    expect(call('read', [], 'i386')).toBe(RET_ALLOW)
    expect(call('socketcall', [], 'i386')).toBe(RET_ALLOW)
    expect(call('unshare', [], 'i386')).toBe(retErrno(EPERM))
    expect(call('clone', [CLONE_NEWUSER], 'i386')).toBe(retErrno(EPERM))
    expect(call('clone', [forkFlags], 'i386')).toBe(RET_ALLOW)
    expect(call('arch_prctl', [], 'x86_64')).toBe(RET_ALLOW) // includes.arches: amd64
  })

  test('the program is small and every call is decided in a few steps', () => {
    expect(filter.program.length / 8).toBeLessThan(600)
    expect(filter.flags).toBe(0)
  })
})

/** A reference reading of a profile for calls without argument conditions: first unconditional rule, else the default. */
function expectedAction(profile: SeccompProfile, caps: string[], arch: NativeArch, name: string): number | 'conditional' {
  const rules = selectRules(profile, { capabilities: caps, arch, kernel: '6.18.0' }).filter((r) => r.names.includes(name))
  if (rules.some((r) => r.args?.length)) return 'conditional'
  const rule = rules[0]
  const act = rule ?? { action: profile.defaultAction, errnoRet: profile.defaultErrnoRet }
  if (act.action === 'SCMP_ACT_ALLOW') return RET_ALLOW
  if (act.action === 'SCMP_ACT_ERRNO') return retErrno(act.errnoRet ?? EPERM)
  throw new Error(`unexpected action ${act.action}`)
}

describe.each([
  ['x86_64', 'default caps', defaultCaps],
  ['x86_64', 'all caps', capabilityNames(capabilitySet({ privileged: true }))],
  ['aarch64', 'default caps', defaultCaps],
  ['aarch64', 'CAP_SYS_ADMIN added', capabilityNames(capabilitySet({ capAdd: ['SYS_ADMIN'] }))],
] as const)('every call of the %s table with %s matches the profile', (arch, _what, caps) => {
  test('call by call', () => {
    const profile = dockerDefaultProfile()
    const { call } = compile(profile, { caps: [...caps], arch })
    let checked = 0
    for (const name of [...syscallTable(arch).keys()]) {
      const want = expectedAction(profile, [...caps], arch, name)
      if (want === 'conditional') continue
      expect([name, call(name)]).toEqual([name, want])
      checked++
    }
    expect(checked).toBeGreaterThan(250)
  })
})

describe('capabilities open what Docker opens', () => {
  test('CAP_SYS_ADMIN: unshare, mount, clone with namespace flags, and a real clone3', () => {
    const { call } = compile(dockerDefaultProfile(), { caps: capabilityNames(capabilitySet({ capAdd: ['SYS_ADMIN'] })) })
    for (const name of ['unshare', 'mount', 'setns', 'clone3', 'bpf']) expect([name, call(name)]).toEqual([name, RET_ALLOW])
    expect(call('clone', [CLONE_NEWUSER])).toBe(RET_ALLOW)
  })

  test('CAP_SYS_PTRACE, CAP_SYS_TIME, CAP_BPF, CAP_PERFMON', () => {
    const caps = capabilityNames(capabilitySet({ capAdd: ['SYS_PTRACE', 'SYS_TIME', 'BPF', 'PERFMON'] }))
    const { call } = compile(dockerDefaultProfile(), { caps, kernel: '4.4' })
    for (const name of ['ptrace', 'kcmp', 'settimeofday', 'clock_settime', 'bpf', 'perf_event_open']) expect([name, call(name)]).toEqual([name, RET_ALLOW])
    expect(call('unshare')).toBe(retErrno(EPERM))
  })
})

describe('aarch64', () => {
  const { call, filter } = compile(dockerDefaultProfile(), { arch: 'aarch64' })
  test('its own numbers; names it lacks (mkdir, open) are skipped', () => {
    expect(call('mkdirat')).toBe(RET_ALLOW)
    expect(call('unshare')).toBe(retErrno(EPERM))
    expect(call('clone', [CLONE_NEWNET])).toBe(retErrno(EPERM))
    expect(call('clone', [forkFlags])).toBe(RET_ALLOW)
    expect(syscallTable('aarch64').get('mkdir')).toBeUndefined()
  })
  test('x86 programs are killed (no compat table for arm; x86 is not this machine)', () => {
    expect(runFilter(filter.program, { nr: 0, arch: AUDIT_ARCH_X86_64 })).toBe(RET_KILL_PROCESS)
  })
})

describe('argument operators on 64-bit values', () => {
  const big = 2 ** 32 + 7
  const probes = [0n, 1n, 6n, 7n, 8n, 2n ** 32n, 2n ** 32n + 6n, 2n ** 32n + 7n, 2n ** 32n + 8n, 2n ** 33n, 2n ** 63n, 2n ** 64n - 1n]
  const ops: [string, (a: bigint, v: bigint) => boolean][] = [
    ['SCMP_CMP_EQ', (a, v) => a === v],
    ['SCMP_CMP_NE', (a, v) => a !== v],
    ['SCMP_CMP_LT', (a, v) => a < v],
    ['SCMP_CMP_LE', (a, v) => a <= v],
    ['SCMP_CMP_GT', (a, v) => a > v],
    ['SCMP_CMP_GE', (a, v) => a >= v],
  ]
  test.each(ops)('%s', (op, holds) => {
    for (const value of [7, big]) {
      const profile = parseProfile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' }, { names: ['ioctl'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, value, op }] }] })
      const { call } = compile(profile)
      for (const a of probes) expect([op, value, a, call('ioctl', [0n, a])]).toEqual([op, value, a, holds(a, BigInt(value)) ? RET_ALLOW : retErrno(EPERM)])
    }
  })

  test('SCMP_CMP_MASKED_EQ: (arg & value) == valueTwo, both words', () => {
    const mask = 2 ** 32 + 0xf0
    const profile = parseProfile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['ioctl'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: mask, valueTwo: 0x10, op: 'SCMP_CMP_MASKED_EQ' }] }] })
    const { call } = compile(profile)
    for (const a of [...probes, 0x10n, 0x1fn, 0x20n, 2n ** 32n + 0x10n, 0xff10n])
      expect([a, call('ioctl', [a])]).toEqual([a, (a & BigInt(mask)) === 0x10n ? RET_ALLOW : retErrno(EPERM)])
  })

  test('several conditions of one rule must all hold; several rules of one call are alternatives', () => {
    const profile = parseProfile({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 13,
      syscalls: [
        { names: ['ioctl'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }, { index: 2, value: 5, op: 'SCMP_CMP_GT' }] },
        { names: ['ioctl'], action: 'SCMP_ACT_ERRNO', errnoRet: 22, args: [{ index: 5, value: 9, op: 'SCMP_CMP_EQ' }] },
      ],
    })
    const { call } = compile(profile)
    expect(call('ioctl', [1, 0, 6])).toBe(RET_ALLOW)
    expect(call('ioctl', [1, 0, 5])).toBe(retErrno(13))
    expect(call('ioctl', [2, 0, 6])).toBe(retErrno(13))
    expect(call('ioctl', [2, 0, 0, 0, 0, 9])).toBe(retErrno(22))
    expect(call('read')).toBe(retErrno(13))
  })
})

describe('program shape', () => {
  test('jumps farther than 255 instructions go through trampolines', () => {
    // 300 calls, each with a 7-instruction condition: the returns at the end are far from the first blocks.
    const names = [...syscallTable('x86_64').keys()].slice(0, 300)
    const profile = parseProfile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: names.map((n, i) => ({ names: [n], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: i, op: 'SCMP_CMP_GE' }] })) })
    const { call, filter } = compile(profile)
    expect(filter.program.length / 8).toBeGreaterThan(1000)
    names.forEach((n, i) => {
      expect([n, call(n, [i])]).toEqual([n, RET_ALLOW])
      if (i > 0) expect([n, call(n, [i - 1])]).toEqual([n, retErrno(EPERM)])
    })
  })

  test('an allow-by-default profile lets newer calls through, and keeps x32 and foreign architectures out', () => {
    const profile = parseProfile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] })
    const { call, filter } = compile(profile)
    expect(call('mkdir')).toBe(retErrno(EPERM))
    expect(call('mkdirat')).toBe(retErrno(EPERM))
    expect(call('read')).toBe(RET_ALLOW)
    expect(runFilter(filter.program, { nr: 1000, arch: AUDIT_ARCH_X86_64 })).toBe(RET_ALLOW)
    expect(runFilter(filter.program, { nr: 0x40000000 + 83, arch: AUDIT_ARCH_X86_64 })).toBe(retErrno(ENOSYS))
    // No architectures listed: only the native one, as libseccomp does.
    expect(runFilter(filter.program, { nr: 39, arch: AUDIT_ARCH_I386 })).toBe(RET_KILL_PROCESS)
  })

  test('an unknown syscall name is skipped, as in Docker', () => {
    const profile = parseProfile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read', 'no_such_call'], action: 'SCMP_ACT_ALLOW' }] })
    expect(compile(profile).call('read')).toBe(RET_ALLOW)
  })

  test('actions map to the kernel return values', () => {
    const profile = parseProfile({
      defaultAction: 'SCMP_ACT_KILL_PROCESS',
      flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
      syscalls: [
        { names: ['read'], action: 'SCMP_ACT_LOG' },
        { names: ['write'], action: 'SCMP_ACT_TRAP' },
        { names: ['close'], action: 'SCMP_ACT_KILL' },
        { names: ['openat'], action: 'SCMP_ACT_TRACE', errnoRet: 5 },
      ],
    })
    const { call, filter } = compile(profile)
    expect(call('read')).toBe(0x7ffc0000)
    expect(call('write')).toBe(0x00030000)
    expect(call('close')).toBe(0)
    expect(call('openat')).toBe(0x7ff00005)
    expect(call('mkdir')).toBe(RET_KILL_PROCESS)
    expect(filter.flags).toBe(2 | 4)
  })
})

describe('bad profiles are EINVALID with the reason', () => {
  const bad: [string, unknown, string][] = [
    ['unknown action', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_MAYBE' }] }, 'unknown action "SCMP_ACT_MAYBE"'],
    ['notify', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_NOTIFY' }] }, 'SCMP_ACT_NOTIFY'],
    ['bad default', { defaultAction: 'ALLOW', syscalls: [] }, 'defaultAction'],
    ['operator', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_LIKE' }] }] }, 'unknown operator'],
    ['index', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }] }, 'syscalls[0].args[0].index'],
    ['negative', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: -1, op: 'SCMP_CMP_EQ' }] }] }, 'value'],
    ['errno on allow', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', errnoRet: 1 }] }, 'errnoRet only goes with'],
    ['both arch forms', { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86'], archMap: [{ architecture: 'SCMP_ARCH_X86_64' }], syscalls: [] }, "both 'architectures' and 'archMap'"],
    ['no names', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ action: 'SCMP_ACT_ALLOW' }] }, "no 'names'"],
    ['minKernel', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: 'four' } }] }, 'minKernel'],
    ['not an object', [], 'expected a JSON object'],
  ]
  test.each(bad)('%s', (_what, json, reason) => {
    expect(() => parseProfile(json)).toThrow(expect.objectContaining({ code: 'EINVALID', message: expect.stringContaining(reason) }))
  })

  test('unknown flag', () => {
    const profile = parseProfile({ defaultAction: 'SCMP_ACT_ERRNO', flags: ['SECCOMP_FILTER_FLAG_NEW_LISTENER'], syscalls: [] })
    expect(() => compile(profile)).toThrow(expect.objectContaining({ code: 'EINVALID', message: expect.stringContaining('SECCOMP_FILTER_FLAG_NEW_LISTENER') }))
  })

  test('a profile past the kernel limit of 4096 instructions', () => {
    const rules = [...syscallTable('x86_64').keys()].slice(0, 300).map((n) => ({ names: [n], action: 'SCMP_ACT_ALLOW', args: [0, 1, 2].map((index) => ({ index, value: 2 ** 40, op: 'SCMP_CMP_GT' })) }))
    const profile = parseProfile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [...rules, ...rules] })
    expect(() => compile(profile)).toThrow(expect.objectContaining({ code: 'EINVALID', message: expect.stringContaining('at most 4096') }))
  })

  test("the old single 'name' form is read", () => {
    const profile = parseProfile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ name: 'read', action: 'SCMP_ACT_ALLOW' }] })
    expect(compile(profile).call('read')).toBe(RET_ALLOW)
  })
})
