// buildRunSpec's policy, as plain data: the mounts in Docker's (runc's) order, the masked and
// read-only paths, what `privileged` changes, the cgroup mounts, capabilities and the seccomp
// choice. No container runs: the spec is only built; the layer is a plain temp dir.
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { baseCloneFlags, buildRunSpec, type NetnsChoice } from '../../lib/container/run-spec'
import type { ContainerPaths } from '../../lib/container/store'
import type { ContainerRecord } from '../../lib/container/types'
import type { ImageRecord } from '../../lib/image/store'
import { hostArch, archInfo, syscallTable } from '../../lib/seccomp/arch'
import { maskedPaths, readonlyPaths } from '../../lib/shim/defaults'
import { MountExtra, type MountOp, type RunSpec } from '../../lib/shim/spec'
import { CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS, MS_RDONLY } from '../../lib/sys/libc'
import { RET_ALLOW, retErrno, runFilter } from '../seccomp/bpf-emulator'

let layer: string
beforeAll(() => {
  layer = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-unit-runspec-'))
  fs.mkdirSync(path.join(layer, 'etc'))
  fs.writeFileSync(path.join(layer, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n')
  fs.writeFileSync(path.join(layer, 'etc/group'), 'root:x:0:\napp:x:1000:\n')
})
afterAll(() => fs.rmSync(layer, { recursive: true, force: true }))

const paths: ContainerPaths = {
  dir: '/c', config: '/c/config.json', state: '/c/state.json', exit: '/c/exit', upper: '/c/upper', work: '/c/work', merged: '/c/merged',
  log: '/c/log.json', hostname: '/c/hostname', hosts: '/c/hosts', resolvConf: '/c/resolv.conf', health: '/c/health.json',
  overlayMountPoint: '/root/rootfs-mount',
}

type HostConfigPart = Partial<ContainerRecord['hostConfig']>

function record(hc: HostConfigPart = {}, extra: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id: 'a'.repeat(64), name: 'unit', image: 'img', imageId: 'sha256:' + 'b'.repeat(64), created: new Date(0).toISOString(),
    config: { cmd: ['serve', '--port', '80'], entrypoint: ['/bin/app'], env: ['A=1'], workdir: '/srv', user: '', hostname: 'aaaaaaaaaaaa', labels: {} },
    hostConfig: {
      networkMode: 'bridge', init: false, autoRemove: false, detach: false, privileged: false, readonlyRootfs: false, capAdd: [], capDrop: [], groupAdd: [],
      binds: [], mountOptions: [], tmpfs: {}, portBindings: [], publishAllPorts: false, links: [], networkingConfig: { aliases: [] }, securityOpt: [],
      ...hc,
    },
    ...extra,
  }
}

const image: ImageRecord = { id: 'sha256:' + 'b'.repeat(64), layers: [], config: {}, hostBinds: [], created: '', architecture: 'amd64', os: 'linux', repoDigests: [], manifests: [] }

function spec(r: ContainerRecord, o: { netns?: NetnsChoice; featureMounts?: MountOp[]; cgroupMounts?: MountOp[]; img?: ImageRecord } = {}): RunSpec {
  return buildRunSpec({
    record: r, image: o.img ?? image, layerDirs: [layer], paths, netns: o.netns ?? { kind: 'own' }, featureMounts: o.featureMounts ?? [],
    cgroups: o.cgroupMounts ? { join: { joinFiles: ['/sys/fs/cgroup/x/cgroup.procs'] }, mounts: o.cgroupMounts } : undefined,
  })
}

const targets = (ops: MountOp[]) => ops.map((m) => m.target)
const mountOf = (s: RunSpec, target: string) => s.mounts.find((m) => m.target === target && m.kind === 'mount') as Extract<MountOp, { kind: 'mount' }>
const capBit = (n: number) => 1n << BigInt(n)
const CAP = { CHOWN: 0, DAC_OVERRIDE: 1, FOWNER: 3, FSETID: 4, KILL: 5, SETGID: 6, SETUID: 7, SETPCAP: 8, NET_BIND_SERVICE: 10, NET_ADMIN: 12, NET_RAW: 13, SYS_CHROOT: 18, SYS_ADMIN: 21, MKNOD: 27, AUDIT_WRITE: 29, SETFCAP: 31, CHECKPOINT_RESTORE: 40 }
// moby oci/caps/defaults.go: the 14 capabilities of a default container.
const dockerDefaults = ['CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE'] as const
const mask = (names: readonly (keyof typeof CAP)[]) => names.reduce((m, n) => m | capBit(CAP[n]), 0n)

describe('mounts, in order', () => {
  test('system mounts first (/proc, /dev and its devices, /dev/pts, /dev/shm, /dev/mqueue, /sys), then etc files, then masked and read-only paths', () => {
    const s = spec(record())
    const order = targets(s.mounts)
    const at = (t: string) => order.indexOf(t)
    expect(order[0]).toBe('/proc')
    expect(order[1]).toBe('/dev')
    for (const dev of ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty']) {
      expect(at(dev)).toBeGreaterThan(at('/dev'))
      expect(s.mounts[at(dev)]).toMatchObject({ kind: 'mknod' })
    }
    expect(at('/dev/pts')).toBeGreaterThan(at('/dev'))
    expect(at('/dev/shm')).toBeGreaterThan(at('/dev'))
    expect(at('/dev/mqueue')).toBeGreaterThan(at('/dev'))
    expect(at('/sys')).toBeGreaterThan(at('/proc'))
    // /etc/hostname, /etc/hosts, /etc/resolv.conf: read-write binds of the container's own files.
    for (const [target, source] of [['/etc/hostname', paths.hostname], ['/etc/hosts', paths.hosts], ['/etc/resolv.conf', paths.resolvConf]]) {
      expect(mountOf(s, target)).toMatchObject({ type: 'bind', source, extra: 0 })
      expect(at(target)).toBeGreaterThan(at('/sys'))
    }
    // runc applies maskedPaths and readonlyPaths after every other mount: nothing mounted later can uncover them.
    const protections = s.mounts.filter((m) => m.kind === 'mask' || m.kind === 'readonly')
    expect(s.mounts.slice(-protections.length)).toEqual(protections)
  })

  test("Docker's masked paths are masked and its read-only paths made read-only", () => {
    const s = spec(record())
    const masked = s.mounts.filter((m) => m.kind === 'mask').map((m) => m.target)
    const readonly = s.mounts.filter((m) => m.kind === 'readonly').map((m) => m.target)
    // moby oci/defaults.go
    for (const p of ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug', '/proc/acpi', '/proc/scsi', '/sys/firmware']) expect(masked).toContain(p)
    for (const p of ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']) expect(readonly).toContain(p)
    expect(masked).toEqual(maskedPaths)
    expect(readonly).toEqual(readonlyPaths)
  })

  test('/proc is nosuid,noexec,nodev; /sys read-only; /dev/shm 64 MiB by default, the shmSize option otherwise', () => {
    const s = spec(record())
    expect(mountOf(s, '/proc')).toMatchObject({ type: 'proc', flags: 2 | 8 | 4 })
    expect(mountOf(s, '/sys').flags & MS_RDONLY).toBe(MS_RDONLY)
    expect(mountOf(s, '/dev/shm').data).toMatch(/(^|,)size=67108864(,|$)/)
    const small = spec(record({}, { resources: { rlimits: [], shmSize: 1 << 20 } }))
    expect(mountOf(small, '/dev/shm').data).toMatch(/(^|,)size=1048576(,|$)/)
  })

  test('cgroup mounts come after the system mounts and before the image binds and feature mounts', () => {
    const cgroupMount: MountOp = { kind: 'mount', type: 'cgroup2', source: 'cgroup', target: '/sys/fs/cgroup', flags: 0 }
    const volume: MountOp = { kind: 'mount', type: 'bind', source: '/vol', target: '/data', flags: 0, extra: 0 }
    const img = { ...image, hostBinds: [{ source: '/usr', target: '/usr' }] }
    const order = targets(spec(record(), { cgroupMounts: [cgroupMount], featureMounts: [volume], img }).mounts)
    expect(order.indexOf('/sys/fs/cgroup')).toBeGreaterThan(order.indexOf('/sys'))
    expect(order.indexOf('/usr')).toBeGreaterThan(order.indexOf('/sys/fs/cgroup'))
    expect(order.indexOf('/data')).toBeGreaterThan(order.indexOf('/usr'))
    expect(order.indexOf('/etc/hosts')).toBeGreaterThan(order.indexOf('/data'))
    // No cgroups (a view of a stopped container, or a host without them): no /sys/fs/cgroup mount and nothing to join.
    const none = spec(record())
    expect(targets(none.mounts)).not.toContain('/sys/fs/cgroup')
    expect(none.cgroups).toBeUndefined()
  })

  test("the image's host binds are read-only binds; feature mounts are kept as given, in their order", () => {
    const a: MountOp = { kind: 'mount', type: 'tmpfs', source: 'tmpfs', target: '/run', flags: 0, data: 'size=1m' }
    const b: MountOp = { kind: 'mount', type: 'bind', source: '/h', target: '/run/x', flags: 0, extra: 0 }
    const s = spec(record(), { featureMounts: [a, b], img: { ...image, hostBinds: [{ source: '/usr', target: '/usr' }] } })
    expect(mountOf(s, '/usr')).toMatchObject({ type: 'bind', source: '/usr', extra: MountExtra.ReadOnly })
    const order = targets(s.mounts)
    expect(order.indexOf('/run/x')).toBe(order.indexOf('/run') + 1)
    expect(s.mounts[order.indexOf('/run')]).toBe(a)
  })
})

describe('privileged', () => {
  test('no masked or read-only paths, /sys writable, every capability, no default seccomp filter', () => {
    const s = spec(record({ privileged: true }))
    expect(s.mounts.filter((m) => m.kind === 'mask' || m.kind === 'readonly')).toEqual([])
    expect(mountOf(s, '/sys').flags & MS_RDONLY).toBe(0)
    expect(s.process.capabilities).toBe((1n << 41n) - 1n) // CAP_CHOWN .. CAP_CHECKPOINT_RESTORE
    expect(s.process.seccomp).toBeUndefined()
  })

  test('the same system mounts otherwise, in the same order', () => {
    const withoutProtection = (s: RunSpec) => targets(s.mounts.filter((m) => m.kind !== 'mask' && m.kind !== 'readonly'))
    expect(withoutProtection(spec(record({ privileged: true })))).toEqual(withoutProtection(spec(record())))
  })
})

describe('capabilities (moby oci/caps TweakCapabilities)', () => {
  test("Docker's 14 default capabilities, nothing else", () => {
    expect(spec(record()).process.capabilities).toBe(mask(dockerDefaults))
  })
  test('capAdd adds and capDrop removes, names with or without CAP_, any case', () => {
    expect(spec(record({ capAdd: ['NET_ADMIN'] })).process.capabilities).toBe(mask(dockerDefaults) | capBit(CAP.NET_ADMIN))
    expect(spec(record({ capDrop: ['cap_chown', 'Kill'] })).process.capabilities).toBe(mask(dockerDefaults) & ~capBit(CAP.CHOWN) & ~capBit(CAP.KILL))
  })
  test('capDrop ALL leaves none; capAdd ALL gives all', () => {
    expect(spec(record({ capDrop: ['ALL'] })).process.capabilities).toBe(0n)
    expect(spec(record({ capAdd: ['ALL'] })).process.capabilities).toBe((1n << 41n) - 1n)
    expect(spec(record({ capAdd: ['ALL'], capDrop: ['NET_RAW'] })).process.capabilities).toBe(((1n << 41n) - 1n) & ~capBit(CAP.NET_RAW))
  })
  test('capDrop ALL with capAdd keeps just the added ones (the usual hardening: --cap-drop ALL --cap-add NET_BIND_SERVICE)', () => {
    expect(spec(record({ capDrop: ['ALL'], capAdd: ['NET_BIND_SERVICE'] })).process.capabilities).toBe(capBit(CAP.NET_BIND_SERVICE))
  })
  test('a capability both added and dropped is kept: Docker drops from the defaults, then adds', () => {
    expect(spec(record({ capAdd: ['NET_ADMIN'], capDrop: ['NET_ADMIN'] })).process.capabilities).toBe(mask(dockerDefaults) | capBit(CAP.NET_ADMIN))
    expect(spec(record({ capAdd: ['CHOWN'], capDrop: ['CHOWN'] })).process.capabilities).toBe(mask(dockerDefaults))
  })
  test('privileged gets every capability whatever capDrop says', () => {
    expect(spec(record({ privileged: true, capDrop: ['ALL'] })).process.capabilities).toBe((1n << 41n) - 1n)
    expect(spec(record({ privileged: true, capDrop: ['NET_RAW'] })).process.capabilities).toBe((1n << 41n) - 1n)
  })
  test('an unknown capability is EINVALID', () => {
    expect(() => spec(record({ capAdd: ['NOT_A_CAP'] }))).toThrow(expect.objectContaining({ code: 'EINVALID' }))
  })
})

describe('seccomp', () => {
  const audit = archInfo[hostArch()].audit
  const call = (s: RunSpec, name: string) => runFilter(s.process.seccomp!.program, { nr: syscallTable(hostArch()).get(name)!, arch: audit })

  test("Docker's default profile by default: mount is EPERM, read allowed", () => {
    const s = spec(record())
    expect(s.process.seccomp).toBeDefined()
    expect(call(s, 'read')).toBe(RET_ALLOW)
    expect(call(s, 'mount')).toBe(retErrno(1))
    expect(s.process.noNewPrivileges).toBe(false)
  })
  test("the default profile follows the capabilities: with SYS_ADMIN, mount is allowed (the profile's includes.caps)", () => {
    expect(call(spec(record({ capAdd: ['SYS_ADMIN'] })), 'mount')).toBe(RET_ALLOW)
  })
  test('seccomp=unconfined: no filter', () => {
    expect(spec(record({ securityOpt: ['seccomp=unconfined'] })).process.seccomp).toBeUndefined()
  })
  test('privileged keeps an explicitly given profile (Docker drops only the default one)', () => {
    const profile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] }
    const s = spec(record({ privileged: true, securityOpt: [`seccomp=${JSON.stringify(profile)}`] }))
    expect(s.process.seccomp).toBeDefined()
    expect(call(s, 'mkdirat')).toBe(retErrno(1))
    expect(call(s, 'mount')).toBe(RET_ALLOW)
  })
  test('no-new-privileges sets no_new_privs and keeps the default filter', () => {
    const s = spec(record({ securityOpt: ['no-new-privileges'] }))
    expect(s.process.noNewPrivileges).toBe(true)
    expect(s.process.seccomp).toBeDefined()
  })
})

describe('namespaces, rootfs and process', () => {
  test('own network namespace: every namespace cloned, lo brought up, no netns path', () => {
    const s = spec(record(), { netns: { kind: 'own' } })
    expect(s.cloneFlags).toBe(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP | CLONE_NEWNET)
    expect(s.loopbackUp).toBe(true)
    expect(s.netnsPath).toBeUndefined()
  })
  test('host network: no network namespace; a prepared one is joined through the fd', () => {
    const host = spec(record(), { netns: { kind: 'host' } })
    expect(host.cloneFlags).toBe(baseCloneFlags)
    expect(host.cloneFlags & CLONE_NEWNET).toBe(0)
    expect(host.loopbackUp).toBe(false)
    const fd = spec(record(), { netns: { kind: 'fd', fd: 42 } })
    expect(fd.cloneFlags & CLONE_NEWNET).toBe(0)
    expect(fd.netnsPath).toBe(`/proc/${process.pid}/fd/42`)
  })
  test('overlay of the layers under the upper dir, on the root\'s shared mount point; readOnly follows readonlyRootfs; volatile only for the last mount', () => {
    expect(spec(record()).rootfs).toEqual({ mergedDir: paths.overlayMountPoint, lowerDirs: [layer], upperDir: paths.upper, workDir: paths.work, readOnly: false, volatile: false })
    expect(spec(record({ readonlyRootfs: true })).rootfs.readOnly).toBe(true)
    expect(buildRunSpec({ record: record(), image, layerDirs: [layer], paths, netns: { kind: 'own' }, featureMounts: [], lastMount: true }).rootfs.volatile).toBe(true)
    // No layers, no overlay: the container's own directory is its root.
    expect(buildRunSpec({ record: record(), image, layerDirs: [], paths, netns: { kind: 'own' }, featureMounts: [] }).rootfs.mergedDir).toBe(paths.merged)
  })
  test('args are entrypoint then cmd; cwd, hostname and environment as Docker sets them', () => {
    const p = spec(record()).process
    expect(p.args).toEqual(['/bin/app', 'serve', '--port', '80'])
    expect(p.cwd).toBe('/srv')
    expect(p.env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=aaaaaaaaaaaa', 'A=1', 'HOME=/root'])
    expect([p.uid, p.gid]).toEqual([0, 0])
  })
  test('user is resolved against the layers', () => {
    const r = record()
    r.config.user = 'app'
    expect(spec(r).process).toMatchObject({ uid: 1000, gid: 1000, additionalGids: [1000] })
  })
  test('the log: unbounded by default, the record’s bounds otherwise', () => {
    expect(spec(record()).output).toEqual({ log: { path: paths.log, maxSize: 0, maxFiles: 1 } })
    expect(spec(record({ logConfig: { type: 'json-file', maxSize: 1000, maxFiles: 3 } })).output).toEqual({ log: { path: paths.log, maxSize: 1000, maxFiles: 3 } })
  })
})
