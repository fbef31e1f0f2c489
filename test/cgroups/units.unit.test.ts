// Pure logic: Docker's size strings, CPU maths, option validation, layout detection.
import { resolveResources, mergeResources } from '../../lib/cgroups/resources'
import { cpuPercent, cpusToQuota, parseBytes, sharesToWeight } from '../../lib/cgroups/units'
import { parseLayout, parseProcCgroup } from '../../lib/cgroups/layout'

test('sizes as docker run parses them: binary units, optional b/ib suffix, numbers as bytes', () => {
  expect(parseBytes('512m', 'memory')).toBe(512 * 1024 * 1024)
  expect(parseBytes('1g', 'memory')).toBe(1024 ** 3)
  expect(parseBytes('1.5G', 'memory')).toBe(1.5 * 1024 ** 3)
  expect(parseBytes('64k', 'memory')).toBe(65536)
  expect(parseBytes('10MiB', 'memory')).toBe(10 * 1024 ** 2)
  expect(parseBytes('100mb', 'memory')).toBe(100 * 1024 ** 2)
  expect(parseBytes('4096', 'memory')).toBe(4096)
  expect(parseBytes(123456, 'memory')).toBe(123456)
  for (const bad of ['', 'm', '12x', '-5m', '1,5g']) expect(() => parseBytes(bad, 'memory')).toThrow(expect.objectContaining({ code: 'EINVALID' }))
  expect(() => parseBytes(-1, 'memory')).toThrow(/memory/)
})

test('CPU maths: quota from cpus, shares to v2 weight, percent of one CPU', () => {
  expect(cpusToQuota(1.5)).toBe(150_000)
  expect(cpusToQuota(0.5, 50_000)).toBe(25_000)
  expect(sharesToWeight(1024)).toBe(39) // runc's mapping: 1 + (1022 * 9999) / 262142
  expect(sharesToWeight(2)).toBe(1)
  expect(sharesToWeight(262_144)).toBe(10_000)
  expect(cpuPercent(500_000_000, 1_000_000_000)).toBe(50)
  expect(cpuPercent(0, 1_000_000_000)).toBe(0)
  expect(cpuPercent(5, 0)).toBe(0)
})

test('resources are normalised: cpus to quota and period, ulimits to setrlimit calls', () => {
  const r = resolveResources({ memory: '512m', memorySwap: '1g', cpus: 1.5, pidsLimit: 100, ulimits: { nofile: { soft: 1024, hard: 4096 }, nproc: 512 }, shmSize: '64m' }, 4)
  expect(r).toEqual({
    memory: 512 * 1024 ** 2, memorySwap: 1024 ** 3, cpuPeriod: 100_000, cpuQuota: 150_000, pidsLimit: 100, shmSize: 64 * 1024 ** 2,
    rlimits: [{ name: 'nofile', resource: 7, soft: 1024, hard: 4096 }, { name: 'nproc', resource: 6, soft: 512, hard: 512 }],
  })
  expect(resolveResources({ pidsLimit: 0 }, 4).pidsLimit).toBeUndefined()
  expect(resolveResources({ memory: '64m', memorySwap: -1 }, 4).memorySwap).toBe(-1)
})

test('bad resource options are EINVALID with a message naming the option', () => {
  const bad: [object, RegExp][] = [
    [{ memory: '5m' }, /memory.*minimum of 6 MiB/],
    [{ memory: '64m', memorySwap: '32m' }, /memorySwap.*at least memory/],
    [{ memorySwap: '1g' }, /memorySwap needs memory/],
    [{ cpus: 5 }, /more than the 4 CPUs/],
    [{ cpus: 0 }, /cpus/],
    [{ cpus: 1, cpuQuota: 50_000 }, /conflicts/],
    [{ cpusetCpus: '0-7' }, /cpusetCpus.*0-3/],
    [{ cpusetCpus: 'a' }, /cpusetCpus/],
    [{ ulimits: { nofiles: 10 } }, /unknown name "nofiles"/],
    [{ ulimits: { nofile: { soft: 10, hard: 5 } } }, /soft limit 10 is above the hard limit 5/],
    [{ pidsLimit: 1.5 }, /pidsLimit/],
    [{ memoryReservation: '1g', memory: '512m' }, /memoryReservation/],
  ]
  for (const [opts, message] of bad) expect(() => resolveResources(opts, 4)).toThrow(expect.objectContaining({ code: 'EINVALID', message: expect.stringMatching(message) }))
})

test('update merges over the current limits, carrying a swap total that would fall below the new memory', () => {
  const current = resolveResources({ memory: '64m', memorySwap: '128m', pidsLimit: 10, ulimits: { nofile: 100 } }, 4)
  const next = mergeResources(current, { memory: '256m', pidsLimit: 20 }, 4)
  expect(next).toMatchObject({ memory: 256 * 1024 ** 2, memorySwap: 512 * 1024 ** 2, pidsLimit: 20, rlimits: current.rlimits })
  expect(mergeResources(current, { cpus: 2 }, 4)).toMatchObject({ cpuQuota: 200_000, cpuPeriod: 100_000, memory: 64 * 1024 ** 2 })
})

const hybridMountinfo = [
  '30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
  '39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
  '40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  '41 22 0:31 /sub /mnt/memory-bind rw,relatime - cgroup cgroup rw,memory',
].join('\n')
const hybridProc = '9:name=systemd:/user.slice\n4:memory:/process_api/x\n3:pids:/\n2:cpu,cpuacct:/\n0::/user.slice\n'

test('layout: hybrid (v1 controllers plus an empty cgroup2 mount), named hierarchies skipped, own cgroup per hierarchy', () => {
  const layout = parseLayout(hybridMountinfo, hybridProc, () => '')
  expect(layout).toEqual({
    name: 'hybrid',
    hierarchies: [
      { controllers: ['cpu', 'cpuacct'], mountPoint: '/sys/fs/cgroup/cpu,cpuacct', ownPath: '/' },
      { controllers: ['memory'], mountPoint: '/sys/fs/cgroup/memory', ownPath: '/process_api/x' },
      { controllers: ['pids'], mountPoint: '/sys/fs/cgroup/pids', ownPath: '/' },
    ],
  })
  expect(parseLayout(hybridMountinfo.split('\n').filter((l) => !l.includes('cgroup2')).join('\n'), hybridProc, () => '').name).toBe('v1')
})

test('layout: unified v2 reads its controllers; no cgroup mounts is "none"', () => {
  const mi = '25 22 0:23 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate'
  const layout = parseLayout(mi, '0::/user.slice/session-1.scope\n', (mp) => (mp === '/sys/fs/cgroup' ? 'cpuset cpu io memory pids\n' : ''))
  expect(layout).toEqual({ name: 'v2', mountPoint: '/sys/fs/cgroup', controllers: new Set(['cpuset', 'cpu', 'io', 'memory', 'pids']), ownPath: '/user.slice/session-1.scope' })
  expect(parseLayout('22 1 0:5 / /sys rw - sysfs sysfs rw', '', () => '')).toEqual({ name: 'none' })
  expect(parseProcCgroup('2:cpu,cpuacct:/a\n0::/b\n')).toEqual(new Map([['cpu', '/a'], ['cpuacct', '/a'], ['', '/b']]))
})
