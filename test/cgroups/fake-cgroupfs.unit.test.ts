// The backends against a directory tree shaped like a cgroupfs: the code path of the layout this host does not have
// (v2 here), and the EUNSUPPORTED checks, which no live host can show for every controller.
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { CgroupService } from '../../lib/cgroups/service'
import { resolveResources } from '../../lib/cgroups/resources'
import { devicePolicy } from '../../lib/cgroups/device-rules'
import { hostCloneIntoAppliesCpuset } from '../../lib/cgroups/cpuset-fork'
import { V1Driver } from '../../lib/cgroups/v1'
import { V2Driver } from '../../lib/cgroups/v2'

let root: string
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-fakecg-'))
})
afterEach(() => fs.rmSync(root, { recursive: true, force: true }))

const read = (...p: string[]) => fs.readFileSync(path.join(root, ...p), 'utf8')
const write = (p: string, v: string) => fs.writeFileSync(path.join(root, p), v)
/** The contents of files under the fake root, to compare with what a backend should have written. */
const files = (names: string[]) => Object.fromEntries(names.map((n) => [n, read(n)]))
const expectFiles = (expected: Record<string, string>) => expect(files(Object.keys(expected))).toEqual(expected)

test('v2: controllers are enabled down the tree, then the limits are written in v2 terms', () => {
  write('cgroup.controllers', 'cpuset cpu io memory pids hugetlb\n')
  write('cgroup.subtree_control', 'memory\n')
  const d = new V2Driver(root, new Set(['cpuset', 'cpu', 'io', 'memory', 'pids', 'hugetlb']))
  d.create('scope/c1', resolveResources({ memory: '64m', memoryReservation: '32m', cpus: 0.5, cpuShares: 512, cpusetCpus: '0', pidsLimit: 42 }, 2), { allowAll: true })
  // Only what is missing is enabled (memory already was), and nothing the runtime does not use (hugetlb).
  expectFiles({
    'cgroup.subtree_control': '+cpuset +cpu +io +pids', 'scope/cgroup.subtree_control': '+cpuset +cpu +io +memory +pids',
    'scope/c1/memory.max': String(64 * 1024 ** 2), 'scope/c1/memory.low': String(32 * 1024 ** 2),
    'scope/c1/cpu.max': '50000 100000', 'scope/c1/cpu.weight': '20',
    'scope/c1/cpuset.cpus': '0', 'scope/c1/pids.max': '42',
  })
  expect(d.joinFiles('scope/c1')).toEqual([path.join(root, 'scope/c1/cgroup.procs')])
  expect(d.containerMounts(true)).toEqual([expect.objectContaining({ type: 'cgroup2', target: '/sys/fs/cgroup', flags: expect.any(Number) })])
})

test('v2: a container is cloned into its cgroup; with a cpuset, only where the kernel applies it to a child cloned in (6.3, or a backport of the fix)', () => {
  write('cgroup.controllers', 'cpuset cpu memory pids\n')
  const v2 = new CgroupService('scope', () => ({ name: 'v2', mountPoint: root, controllers: new Set(['cpuset', 'cpu', 'memory', 'pids']), ownPath: '/' }))
  const opts = { readOnly: true, devices: { allowAll: true as const } }
  expect(v2.prepare('c1', resolveResources({ memory: '64m' }, 2), opts)!.join.intoDir).toBe(path.join(root, 'scope/c1'))
  const withCpuset = v2.prepare('c2', resolveResources({ cpusetCpus: '0' }, 2), opts)!.join
  expect(withCpuset.intoDir).toBe(hostCloneIntoAppliesCpuset() ? path.join(root, 'scope/c2') : undefined)
  expect(withCpuset.joinFiles).toEqual([path.join(root, 'scope/c2/cgroup.procs')])
})

test('v2: swap is memory.swap.max = memorySwap - memory, Docker default twice memory, -1 unlimited', () => {
  const d = new V2Driver(root, new Set(['memory']))
  fs.mkdirSync(path.join(root, 'c'))
  write('c/memory.swap.max', 'max')
  d.apply('c', resolveResources({ memory: '64m', memorySwap: '100m' }, 2))
  expect(read('c/memory.swap.max')).toBe(String(36 * 1024 ** 2))
  d.apply('c', resolveResources({ memory: '64m' }, 2))
  expect(read('c/memory.swap.max')).toBe(String(64 * 1024 ** 2))
  d.apply('c', resolveResources({ memory: '64m', memorySwap: -1 }, 2))
  expect(read('c/memory.swap.max')).toBe('max')
})

test('v2: counters from cpu.stat, memory.current minus inactive_file, io.stat, memory.events; freezer from cgroup.events', () => {
  const d = new V2Driver(root, new Set(['cpu', 'memory', 'pids', 'io']))
  fs.mkdirSync(path.join(root, 'c'))
  write('c/cpu.stat', 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n')
  write('c/memory.current', '10000000\n')
  write('c/memory.stat', 'anon 5000000\nfile 4000000\ninactive_file 3000000\n')
  write('c/memory.max', '67108864\n')
  write('c/pids.current', '7\n')
  write('c/io.stat', '8:0 rbytes=100 wbytes=200 rios=1 wios=2\n8:16 rbytes=1 wbytes=2 rios=1 wios=1\n')
  write('c/memory.events', 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n')
  write('c/cgroup.procs', '12\n34\n')
  expect(d.counters('c')).toEqual({ cpuNs: 1_500_000, memoryUsage: 7_000_000, memoryLimit: 67108864, pids: 7, blkioRead: 101, blkioWrite: 202, oomKills: 1 })
  write('c/memory.max', 'max\n')
  expect(d.counters('c').memoryLimit).toBeUndefined()
  expect(d.pids('c')).toEqual([12, 34])
  expect(() => d.setFrozen('c', true)).toThrow(expect.objectContaining({ code: 'EUNSUPPORTED' }))
  write('c/cgroup.freeze', '0')
  write('c/cgroup.events', 'populated 1\nfrozen 0\n')
  d.setFrozen('c', true)
  expect(d.frozen('c')).toBeUndefined() // asked, not done yet
  write('c/cgroup.events', 'populated 1\nfrozen 1\n')
  expect(d.frozen('c')).toBe(true)
  expect(d.children('')).toEqual(['c'])
  expect(d.remove('c')).toBe(false) // a real cgroupfs lets rmdir go with its files; here they make it "busy"
})

test('v1: one cgroup per hierarchy under the own cgroup, cpuset copied from the parent, memsw after memory', () => {
  for (const h of ['memory', 'cpu,cpuacct', 'cpuset', 'pids']) fs.mkdirSync(path.join(root, h, 'own'), { recursive: true })
  write('cpuset/own/cpuset.cpus', '0-1')
  write('cpuset/own/cpuset.mems', '0')
  write('memory/own/memory.memsw.limit_in_bytes', '9223372036854771712')
  const hierarchies = [
    { controllers: ['memory'], mountPoint: path.join(root, 'memory'), ownPath: '/own' },
    { controllers: ['cpu', 'cpuacct'], mountPoint: path.join(root, 'cpu,cpuacct'), ownPath: '/own' },
    { controllers: ['cpuset'], mountPoint: path.join(root, 'cpuset'), ownPath: '/own' },
    { controllers: ['pids'], mountPoint: path.join(root, 'pids'), ownPath: '/own' },
  ]
  const d = new V1Driver('hybrid', hierarchies)
  // A v1 cgroup's files exist as soon as it is made; the fake gets memsw on the container's cgroup in advance.
  fs.mkdirSync(path.join(root, 'memory/own/scope/c1'), { recursive: true })
  write('memory/own/scope/c1/memory.memsw.limit_in_bytes', '0')
  d.create('scope/c1', resolveResources({ memory: '64m', cpus: 1.5, pidsLimit: 9, oomKillDisable: true }, 2), { allowAll: true })
  expectFiles({
    'cpuset/own/scope/cpuset.cpus': '0-1', 'cpuset/own/scope/c1/cpuset.mems': '0',
    'memory/own/scope/c1/memory.limit_in_bytes': String(64 * 1024 ** 2), 'memory/own/scope/c1/memory.memsw.limit_in_bytes': String(128 * 1024 ** 2),
    'memory/own/scope/c1/memory.oom_control': '1', 'cpu,cpuacct/own/scope/c1/cpu.cfs_quota_us': '150000',
    'cpu,cpuacct/own/scope/c1/cpu.cfs_period_us': '100000', 'pids/own/scope/c1/pids.max': '9',
  })
  // v1 joins through tasks: the child is one thread, and a thread's move skips the global threadgroup lock.
  expect(d.joinFiles('scope/c1')).toEqual(['memory', 'cpu,cpuacct', 'cpuset', 'pids'].map((h) => path.join(root, h, 'own/scope/c1/tasks')))
  const mounts = d.containerMounts(true)
  expect(mounts.map((m) => m.kind === 'symlink' ? `${m.target}->${m.linkTarget}` : `${m.kind} ${m.target}`)).toEqual([
    'mount /sys/fs/cgroup', 'mount /sys/fs/cgroup/memory', 'mount /sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/cpu->cpu,cpuacct',
    '/sys/fs/cgroup/cpuacct->cpu,cpuacct', 'mount /sys/fs/cgroup/cpuset', 'mount /sys/fs/cgroup/pids', 'readonly /sys/fs/cgroup',
  ])
})

test('a controller the host lacks is EUNSUPPORTED, naming the controller and the layout, before any cgroup is made', () => {
  const v2 = new CgroupService('scope', () => ({ name: 'v2', mountPoint: root, controllers: new Set(['memory']), ownPath: '/' }))
  expect(() => v2.check(resolveResources({ pidsLimit: 5 }, 2))).toThrow(expect.objectContaining({ code: 'EUNSUPPORTED', message: expect.stringMatching(/pidsLimit needs the cgroup pids controller.*v2 layout/) }))
  expect(() => v2.check(resolveResources({ memory: '64m', oomKillDisable: true }, 2))).toThrow(expect.objectContaining({ code: 'EUNSUPPORTED', feature: 'memory.oom_control' }))
  const v1 = new CgroupService('scope', () => ({ name: 'hybrid', hierarchies: [{ controllers: ['memory'], mountPoint: root, ownPath: '/' }] }))
  expect(() => v1.check(resolveResources({ cpus: 1 }, 2))).toThrow(expect.objectContaining({ code: 'EUNSUPPORTED', layout: 'hybrid', feature: 'cpu' }))
  expect(() => v1.check(resolveResources({ memory: '64m', memorySwap: '128m' }, 2))).toThrow(expect.objectContaining({ code: 'EUNSUPPORTED', message: expect.stringMatching(/memsw/) }))
  expect(() => v1.prepare('c1', resolveResources({ cpus: 1 }, 2), { readOnly: true, devices: { allowAll: true } })).toThrow(expect.objectContaining({ code: 'EUNSUPPORTED' }))
  expect(fs.readdirSync(root)).toEqual([])
  const none = new CgroupService('scope', () => ({ name: 'none' }))
  expect(() => none.check(resolveResources({ memory: '64m' }, 2))).toThrow(expect.objectContaining({ code: 'EUNSUPPORTED', layout: 'none' }))
  expect(none.prepare('c1', resolveResources({}, 2), { readOnly: true, devices: { allowAll: true } })).toBeUndefined()
})

test('v1 without the devices controller: a container that is not privileged is EUNSUPPORTED (its devices would be open), and nothing is left', () => {
  const v1 = new CgroupService('scope', () => ({ name: 'v1', hierarchies: [{ controllers: ['memory'], mountPoint: root, ownPath: '/' }] }))
  const devices = devicePolicy({ privileged: false })
  expect(() => v1.prepare('c1', resolveResources({}, 2), { readOnly: true, devices })).toThrow(expect.objectContaining({ code: 'EUNSUPPORTED', feature: 'devices' }))
  expect(fs.readdirSync(root)).toEqual([])
  expect(v1.prepare('c1', resolveResources({}, 2), { readOnly: true, devices: devicePolicy({ privileged: true }) })).toBeDefined()
})

test('no cgroups at all: a container that is not privileged is EUNSUPPORTED, saying why and what to do, as on v1 without the devices controller; a privileged one still starts', () => {
  const none = new CgroupService('scope', () => ({ name: 'none' }))
  const refused = expect.objectContaining({
    code: 'EUNSUPPORTED', feature: 'devices', layout: 'none',
    message: expect.stringMatching(/could open every device node; mount the cgroup hierarchy .*, or run the container with privileged: true/),
  })
  expect(() => none.prepare('c1', resolveResources({}, 2), { readOnly: true, devices: devicePolicy({ privileged: false }) })).toThrow(refused)
  expect(() => none.prepare('c1', resolveResources({}, 2), { readOnly: true, devices: devicePolicy({ privileged: false, rules: [{ type: 'a', major: '*', minor: '*', access: 'rwm' }] }) })).toThrow(refused)
  expect(none.prepare('c1', resolveResources({}, 2), { readOnly: true, devices: devicePolicy({ privileged: true }) })).toBeUndefined()
})

test("a program's end reads only the OOM counter (v1 memory.oom_control, v2 memory.events): the other counters are not read, so one unreadable does not matter; false once the cgroup is gone", () => {
  const v1 = new CgroupService('scope', () => ({ name: 'v1', hierarchies: [{ controllers: ['memory'], mountPoint: path.join(root, 'memory'), ownPath: '/' }] }))
  fs.mkdirSync(path.join(root, 'memory/scope/c1'), { recursive: true })
  write('memory/scope/c1/memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n')
  const v2 = new CgroupService('scope', () => ({ name: 'v2', mountPoint: path.join(root, 'unified'), controllers: new Set(['memory']), ownPath: '/' }))
  fs.mkdirSync(path.join(root, 'unified/scope/c1'), { recursive: true })
  write('unified/scope/c1/memory.events', 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n')
  // Reading any other counter (stats() reads them all) would fail with EISDIR.
  for (const f of ['memory/scope/c1/memory.usage_in_bytes', 'memory/scope/c1/memory.limit_in_bytes', 'unified/scope/c1/memory.stat', 'unified/scope/c1/memory.current'])
    fs.mkdirSync(path.join(root, f))
  expect(v1.oomKilled('c1')).toBe(true)
  expect(v2.oomKilled('c1')).toBe(false)
  expect(v1.oomKilled('gone')).toBe(false)
  expect(v2.oomKilled('gone')).toBe(false)
})
