// The wire encoding of run and exec specs, read back with a decoder written from the shim's
// parser (native/spec.c: a u32 little-endian length, then NUL-terminated tokens, each key
// followed by its values), so the encoder and the C side are checked against each other.
import { SHIM_PROTOCOL_VERSION } from '../../lib/shim/protocol'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { encodeExecSpec, encodeRunSpec, MountExtra, mountFallbacks, type ExecSpec, type RunSpec } from '../../lib/shim/spec'
import { CLONE_NEWCGROUP, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID } from '../../lib/sys/libc'

// How many values follow each key in native/spec.c (parse_op, parse_rlimit; every other key takes one).
const arity: Record<string, number> = { mount: 6, mknod: 6, symlink: 2, mask: 1, ropath: 1, rlimit: 3 }
// The keys native/spec.c accepts (an unknown key makes the whole spec malformed there).
const knownKeys = new Set([...fs.readFileSync(path.join(__dirname, '../../native/spec.c'), 'utf8').matchAll(/strcmp\(key, "(\w+)"\)/g)].map((m) => m[1]))

/** Splits an encoded spec into [key, ...values] entries, as the shim reads it. */
function decode(buf: Buffer): string[][] {
  const len = buf.readUInt32LE(0)
  expect(len).toBe(buf.length - 4)
  const body = buf.subarray(4)
  expect(body[body.length - 1]).toBe(0) // every token is NUL-terminated, the last one too
  const tokens = body.subarray(0, -1).toString('utf8').split('\0')
  const entries: string[][] = []
  for (let i = 0; i < tokens.length; ) {
    const key = tokens[i]
    expect(knownKeys).toContain(key)
    const n = arity[key] ?? 1
    expect(i + n).toBeLessThan(tokens.length)
    entries.push(tokens.slice(i, i + 1 + n))
    i += 1 + n
  }
  return entries
}

/** The values of every entry with `key`. */
const all = (e: string[][], key: string) => e.filter((x) => x[0] === key).map((x) => x.slice(1))
/** The value of the single entry with `key`. */
function one(e: string[][], key: string): string {
  const found = all(e, key)
  expect(found).toHaveLength(1)
  return found[0][0]
}

function runSpec(over: Partial<RunSpec> = {}): RunSpec {
  return {
    rootfs: { mergedDir: '/c/merged', lowerDirs: ['/l/top', '/l/base'], upperDir: '/c/upper', workDir: '/c/work', readOnly: false },
    mounts: [
      { kind: 'mount', type: 'proc', source: 'proc', target: '/proc', flags: 14, data: '' },
      { kind: 'mknod', target: '/dev/null', mode: 0o20666, major: 1, minor: 3 },
      { kind: 'symlink', linkTarget: '/proc/self/fd', target: '/dev/fd' },
      { kind: 'mount', type: 'bind', source: '/host/data dir', target: '/data', flags: 0, extra: MountExtra.ReadOnly },
      { kind: 'mask', target: '/proc/kcore' },
      { kind: 'readonly', target: '/proc/sys' },
    ],
    process: {
      args: ['/bin/sh', '-c', 'echo "a b"; exit 3', ''],
      env: ['PATH=/bin', 'X=a=b', 'EMPTY='],
      cwd: '/work dir',
      uid: 1000,
      gid: 50,
      additionalGids: [50, 29],
      capabilities: (1n << 40n) | 1n,
      noNewPrivileges: true,
    },
    cloneFlags: CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWCGROUP | CLONE_NEWNET,
    hostname: 'host-1',
    loopbackUp: true,
    stdin: '/dev/null',
    output: { log: { path: '/c/log.json', maxSize: 10_000_000, maxFiles: 3 } },
    init: true,
    detach: false,
    exitFile: '/c/exit',
    ...over,
  }
}

describe('encodeRunSpec', () => {
  test('the root filesystem: merged, upper, work, read-only flag and the lower dirs top first', () => {
    const e = decode(encodeRunSpec(runSpec()))
    expect([one(e, 'rootfs'), one(e, 'upper'), one(e, 'work'), one(e, 'readonly')]).toEqual(['/c/merged', '/c/upper', '/c/work', '0'])
    expect(all(e, 'lower')).toEqual([['/l/top'], ['/l/base']])
    expect(one(decode(encodeRunSpec(runSpec({ rootfs: { ...runSpec().rootfs, readOnly: true } }))), 'readonly')).toBe('1')
  })

  test('the process: arguments and environment in order, byte for byte (spaces, quotes, "=", empty strings)', () => {
    const e = decode(encodeRunSpec(runSpec()))
    expect(all(e, 'arg').flat()).toEqual(['/bin/sh', '-c', 'echo "a b"; exit 3', ''])
    expect(all(e, 'env').flat()).toEqual(['PATH=/bin', 'X=a=b', 'EMPTY='])
    expect([one(e, 'cwd'), one(e, 'uid'), one(e, 'gid'), one(e, 'nnp')]).toEqual(['/work dir', '1000', '50', '1'])
    expect(all(e, 'group').flat()).toEqual(['50', '29'])
  })

  test('capabilities as a decimal 64-bit mask (bits above 2^53 kept exactly)', () => {
    const e = decode(encodeRunSpec(runSpec({ process: { ...runSpec().process, capabilities: (1n << 63n) | 5n } })))
    expect(BigInt(one(e, 'caps'))).toBe((1n << 63n) | 5n)
  })

  test('mount steps in order, each with the values the shim reads', () => {
    const e = decode(encodeRunSpec(runSpec())).filter((x) => x[0] in arity && x[0] !== 'rlimit')
    expect(e).toEqual([
      ['mount', 'proc', 'proc', '/proc', '14', '', '0'],
      ['mknod', '/dev/null', String(0o20666), '1', '3', '0', '0'],
      ['symlink', '/proc/self/fd', '/dev/fd'],
      ['mount', 'bind', '/host/data dir', '/data', '0', '', String(MountExtra.ReadOnly)],
      ['mask', '/proc/kcore'],
      ['ropath', '/proc/sys'],
    ])
  })

  test('namespaces, loopback, init, detach, hostname, exit file, stdin and the log', () => {
    const e = decode(encodeRunSpec(runSpec()))
    expect(Number(one(e, 'clone'))).toBe(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWCGROUP | CLONE_NEWNET)
    expect([one(e, 'lo'), one(e, 'init'), one(e, 'detach'), one(e, 'hostname'), one(e, 'exitfile'), one(e, 'stdin')]).toEqual(['1', '1', '0', 'host-1', '/c/exit', '/dev/null'])
    expect([one(e, 'log'), one(e, 'logmaxsize'), one(e, 'logmaxfiles')]).toEqual(['/c/log.json', '10000000', '3'])
    expect(all(e, 'stdout')).toEqual([])
    expect(all(e, 'netnspath')).toEqual([])
    expect(all(e, 'hold')).toEqual([])
  })

  test('plain output files instead of the log; a netns to join; hold', () => {
    const e = decode(encodeRunSpec(runSpec({ output: { stdout: '/o', stderr: '/e' }, netnsPath: '/proc/1/fd/9', hold: true })))
    expect([one(e, 'stdout'), one(e, 'stderr'), one(e, 'netnspath'), one(e, 'hold')]).toEqual(['/o', '/e', '/proc/1/fd/9', '1'])
    expect(all(e, 'log')).toEqual([])
  })

  test('cgroups to join: their procs files, then the cgroup namespace, which is left out of the clone flags', () => {
    const e = decode(encodeRunSpec(runSpec({ cgroups: { joinFiles: ['/sys/fs/cgroup/a/cgroup.procs', '/sys/fs/cgroup/cpu/a/cgroup.procs'] } })))
    expect(all(e, 'cgroup').flat()).toEqual(['/sys/fs/cgroup/a/cgroup.procs', '/sys/fs/cgroup/cpu/a/cgroup.procs'])
    expect(one(e, 'cgroupns')).toBe('1')
    const keys = e.map((x) => x[0])
    expect(keys.lastIndexOf('cgroup')).toBeLessThan(keys.indexOf('cgroupns'))
    expect(Number(one(e, 'clone')) & CLONE_NEWCGROUP).toBe(0)
    expect(Number(one(e, 'clone')) & CLONE_NEWNET).toBe(CLONE_NEWNET)
  })

  test('seccomp: the filter program as hex and its flags; rlimits as resource, soft, hard (-1 unlimited)', () => {
    const program = Buffer.from('0600000000000000', 'hex')
    const p = { ...runSpec().process, seccomp: { program, flags: 2 }, rlimits: [{ resource: 7, soft: 1024, hard: -1 }] }
    const e = decode(encodeRunSpec(runSpec({ process: p })))
    expect(Buffer.from(one(e, 'seccomp'), 'hex')).toEqual(program)
    expect(one(e, 'seccompflags')).toBe('2')
    expect(all(e, 'rlimit')).toEqual([['7', '1024', '-1']])
  })

  test('the kernel fallbacks switch adds legacymounts', () => {
    mountFallbacks.force = true
    try {
      expect(one(decode(encodeRunSpec(runSpec())), 'legacymounts')).toBe('1')
    } finally {
      mountFallbacks.force = false
    }
    expect(all(decode(encodeRunSpec(runSpec())), 'legacymounts')).toEqual([])
  })

  test('a NUL byte in any string is EINVALID: it would split a token and shift every later one', () => {
    for (const bad of [
      runSpec({ process: { ...runSpec().process, args: ['/bin/sh', 'a\0b'] } }),
      runSpec({ process: { ...runSpec().process, env: ['A=\0'] } }),
      runSpec({ hostname: 'h\0' }),
      runSpec({ mounts: [{ kind: 'mask', target: '/proc/\0kcore' }] }),
    ])
      expect(() => encodeRunSpec(bad)).toThrow(expect.objectContaining({ code: 'EINVALID', message: expect.stringMatching(/NUL/) }))
  })
})

describe('encodeExecSpec', () => {
  const exec: ExecSpec = { pid: 4242, joinFlags: CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWCGROUP, process: { ...runSpec().process, args: ['id', '-u'] } }

  test('the target pid, the namespaces to join and the process', () => {
    const e = decode(encodeExecSpec(exec))
    expect(e.slice(0, 2)).toEqual([['protocol', String(SHIM_PROTOCOL_VERSION)], ['pid', '4242']])
    expect(Number(one(e, 'join'))).toBe(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWCGROUP)
    expect(all(e, 'arg').flat()).toEqual(['id', '-u'])
    expect(all(e, 'rootfs')).toEqual([])
  })

  test("with the container's cgroups, the cgroup namespace is joined after them, not with the others", () => {
    const e = decode(encodeExecSpec({ ...exec, cgroups: { joinFiles: ['/sys/fs/cgroup/a/cgroup.procs'] } }))
    expect(Number(one(e, 'join')) & CLONE_NEWCGROUP).toBe(0)
    expect(all(e, 'cgroup').flat()).toEqual(['/sys/fs/cgroup/a/cgroup.procs'])
    expect(one(e, 'cgroupns')).toBe('1')
  })
})
