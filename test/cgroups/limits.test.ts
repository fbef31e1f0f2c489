// Resource limits on the real kernel, observed from the host through the kernel's own files
// (/proc/<pid>/cgroup, the cgroupfs), not through the library.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { execFileSync } from 'node:child_process'
import { Container, run, type Runtime } from '../../lib'
import { sleep, text, timeScale, useRuntime } from '../helpers'
import { cgroupDir, cgroupValue, insidePath, isV2, memoryLinePrefix } from './host-view'
import { syscallsOnPaths } from '../tools/strace'
import { startTicker } from './ticker'

let runtime: Runtime
useRuntime((r) => (runtime = r))

async function pidOf(c: Container): Promise<number> {
  return (await c.inspect()).state.pid
}

test('a memory hog is OOM-killed by the kernel: exit code 137 and oomKilled from the cgroup counter', async () => {
  // dd allocates its block: 256 MiB against a 32 MiB limit (this host has no swap, and memorySwap caps it anyway).
  const c = await run('host', ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=256M', 'count=1'], { runtime, network: 'none', memory: '32m', memorySwap: '32m' })
  expect(await c.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' })
  const { state } = await c.inspect()
  expect(state.oomKilled).toBe(true)
  expect(state.exitCode).toBe(137)
  await c.remove()
})

test('a process killed with SIGKILL by someone else is not reported as OOM-killed; its shim, not Node, reads the OOM counter at the exit', async () => {
  const c = await run('host', ['sleep', '30'], { runtime, network: 'none', memory: '32m' })
  const counter = path.join(cgroupDir(await pidOf(c), 'memory'), isV2 ? 'memory.events' : 'memory.oom_control')
  expect(fs.readFileSync(counter, 'utf8')).toMatch(/^oom_kill 0$/m)
  // Node's own threads only (the shim is not its traced child): a cgroupfs read on its event loop waits on the kernfs lock.
  const calls = await syscallsOnPaths(process.pid, [counter], async () => {
    await c.kill('SIGKILL')
    expect((await c.wait()).exitCode).toBe(137)
  })
  expect(calls).toEqual([])
  expect((await c.inspect()).state.oomKilled).toBe(false)
  await c.remove()
})

test('a fork storm stops at pidsLimit, and the host keeps forking', async () => {
  // Bounded even if the limit failed: 100 sleeps. dash gives up at the first refused fork, so the storm runs in a subshell.
  const script = '(i=0; while [ $i -lt 100 ]; do sleep 20 & i=$((i+1)); done) 2>/dev/null; echo started; sleep 20'
  const c = await run('host', ['sh', '-c', script], { runtime, network: 'none', pidsLimit: 20 })
  const pid = await pidOf(c)
  for (let i = 0; i < 200 && !(await text(c.logs())).includes('started'); i++) await sleep(50)
  expect(await text(c.logs())).toBe('started\n')
  const current = Number(cgroupValue(pid, 'pidsCurrent'))
  expect(current).toBeLessThanOrEqual(20)
  expect(current).toBeGreaterThanOrEqual(15) // it did fork up to about the limit
  expect(Number(cgroupValue(pid, 'pidsRefused'))).toBeGreaterThan(0) // forks the kernel refused
  expect(execFileSync('sh', ['-c', 'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21; do true & done; wait; echo host is fine']).toString()).toBe('host is fine\n')
  await c.remove({ force: true })
})

test('a busy loop with cpus: 0.5 gets about half a CPU at most, measured by the cgroup', async () => {
  // A control loop without a limit runs alongside: on a loaded machine neither gets a full CPU, so the
  // limited one is compared with what the machine gave the control, and never above half a CPU.
  const loop = ['timeout', '20', 'sh', '-c', 'while :; do :; done']
  const limited = await run('host', loop, { runtime, network: 'none', cpus: 0.5 })
  const control = await run('host', loop, { runtime, network: 'none' })
  const [lp, cp] = [await pidOf(limited), await pidOf(control)]
  expect(cgroupValue(lp, 'cpuQuotaUs')).toBe('50000')
  expect(cgroupValue(lp, 'cpuPeriodUs')).toBe('100000')
  await sleep(300)
  const usage = (pid: number) => Number(cgroupValue(pid, 'cpuUsageNs'))
  const t0 = process.hrtime.bigint()
  const [l0, c0] = [usage(lp), usage(cp)]
  await sleep(3000)
  const wall = Number(process.hrtime.bigint() - t0)
  const [l, c] = [(usage(lp) - l0) / wall, (usage(cp) - c0) / wall]
  expect(l).toBeLessThan(0.56)
  // Not starved: under contention a bandwidth-limited group gets less than its fair share (a
  // throttled period's leftover is lost to it), measured down to 0.57 of the control's at load 18.
  expect(l).toBeGreaterThan(Math.min(c, 0.5) * 0.4)
  expect(Number(cgroupValue(lp, 'cpuPeriods'))).toBeGreaterThan(10) // CFS bandwidth control is active
  await limited.remove({ force: true })
  await control.remove({ force: true })
})

test("swap, reservation, CPU share and cpuset are in the kernel's files, and the program is held to its CPUs", async () => {
  const c = await run('host', ['sh', '-c', 'grep Cpus_allowed_list /proc/self/status; sleep 30'], {
    runtime,
    network: 'none',
    memory: '64m',
    memorySwap: '96m',
    memoryReservation: '16m',
    cpuShares: 512,
    cpusetCpus: '0',
  })
  const pid = await pidOf(c)
  // Docker's memorySwap is memory plus swap: v1 keeps that sum, v2 the swap alone.
  expect(cgroupValue(pid, 'memorySwapLimit')).toBe(String(isV2 ? 32 << 20 : 96 << 20))
  expect(cgroupValue(pid, 'memoryReservation')).toBe(String(16 << 20))
  // v2 has a weight: runc's conversion of 512 shares, 1 + (512 - 2) * 9999 / 262142.
  expect(cgroupValue(pid, 'cpuShare')).toBe(isV2 ? '20' : '512')
  expect(cgroupValue(pid, 'cpusetCpus')).toBe('0')
  for (let i = 0; i < 50 && !(await text(c.logs())).includes('Cpus'); i++) await sleep(20 * timeScale)
  expect((await text(c.logs())).trim()).toMatch(/^Cpus_allowed_list:\s+0$/)
  await c.remove({ force: true })
})

test('update raises limits while the program runs: pids, memory and CPU, inside and on the host', async () => {
  const c = await run('host', ['sleep', '60'], { runtime, network: 'none', pidsLimit: 4, memory: '32m', cpus: 0.5 })
  const pid = await pidOf(c)
  // exec joins the container's cgroup: with PID 1 and the exec'd shell counted, only two more processes fit.
  const spawn = 'ok=0; for i in 1 2 3 4 5 6; do sleep 3 >/dev/null 2>&1 & [ $? = 0 ] && ok=$((ok+1)); done 2>/dev/null; echo $ok'
  const before = await c.exec(['sh', '-c', spawn])
  expect(Number(before.stdout.trim())).toBeLessThan(6)
  await c.update({ pidsLimit: 50, memory: '96m', cpus: 1 })
  expect(cgroupValue(pid, 'pidsMax')).toBe('50')
  expect(cgroupValue(pid, 'memoryLimit')).toBe(String(96 * 1024 * 1024))
  expect(cgroupValue(pid, 'cpuQuotaUs')).toBe('100000')
  const after = await c.exec(['sh', '-c', spawn])
  expect(after.stdout.trim()).toBe('6')
  expect((await c.exec(['cat', insidePath('memoryLimit')])).stdout.trim()).toBe(String(96 * 1024 * 1024))
  expect((await Container.get(c.id, { runtime })).id).toBe(c.id)
  await expect(c.update({ ulimits: {} } as never)).rejects.toMatchObject({ code: 'EINVALID' })
  await expect(c.update({ memory: '1m' })).rejects.toMatchObject({ code: 'EINVALID' })
  await c.remove({ force: true })
})

test('pause freezes the processes (a counter stops) and unpause lets them go on', async () => {
  const { c, pid, count: counter } = await startTicker(runtime)
  await sleep(300)
  await c.pause()
  expect(cgroupValue(pid, 'freezer')).toBe('frozen')
  const { state } = await c.inspect()
  expect(state).toMatchObject({ status: 'paused', paused: true, running: true })
  const frozenAt = counter()
  await sleep(400)
  expect(counter()).toBe(frozenAt)
  await c.unpause()
  expect((await c.inspect()).state).toMatchObject({ status: 'running', paused: false })
  await sleep(400 * timeScale)
  expect(counter()).toBeGreaterThan(frozenAt + 3)
  // As in Docker: exec into a paused container is refused at once (it would hang frozen),
  // and pausing twice or unpausing a running one are errors.
  await c.pause()
  await expect(c.pause()).rejects.toMatchObject({ code: 'EPAUSED', message: expect.stringContaining('already paused') })
  await expect(c.exec(['true'])).rejects.toMatchObject({ code: 'EPAUSED', message: expect.stringContaining('unpause it before exec') })
  await c.unpause()
  await expect(c.unpause()).rejects.toMatchObject({ code: 'EPAUSED', message: expect.stringContaining('not paused') })
  expect((await c.exec(['true'])).exitCode).toBe(0)
  // A paused container can still be killed: SIGKILL thaws it.
  await c.pause()
  await c.kill('SIGKILL')
  expect((await c.wait()).exitCode).toBe(137)
  await c.remove()
})

test('ulimits and shmSize are what the program sees', async () => {
  // dash's ulimit: -n open files, -p processes.
  const c = await run('host', ['sh', '-c', 'ulimit -Sn; ulimit -Hn; ulimit -p; df -k /dev/shm | tail -1'], {
    runtime, network: 'none', ulimits: { nofile: { soft: 1000, hard: 2000 }, nproc: 321 }, shmSize: '10m',
  })
  await c.wait()
  const [soft, hard, nproc, shm] = (await text(c.logs())).trim().split('\n')
  expect([soft, hard, nproc]).toEqual(['1000', '2000', '321'])
  expect(shm!.split(/\s+/)[1]).toBe('10240')
  await c.remove()
  const running = await run('host', ['sleep', '30'], { runtime, network: 'none', ulimits: { nofile: 777 } })
  expect((await running.exec(['sh', '-c', 'ulimit -Sn; ulimit -Hn'])).stdout).toBe('777\n777\n') // exec'd processes get them too
  await running.remove({ force: true })
})

test('the container sees its own cgroups at /sys/fs/cgroup, read-only, as the root of a cgroup namespace', async () => {
  const c = await run('host', ['sleep', '60'], { runtime, network: 'none', memory: '48m', pidsLimit: 33, cpus: 1.5 })
  const pid = await pidOf(c)
  const inside = async (cmd: string) => (await c.exec(['sh', '-c', cmd])).stdout.trim()
  expect(await inside(`cat ${insidePath('memoryLimit')}`)).toBe(String(48 * 1024 * 1024))
  expect(await inside(`cat ${insidePath('pidsMax')}`)).toBe('33')
  expect(await inside(`cat ${insidePath('cpuQuotaUs')}`)).toBe(isV2 ? '150000 100000' : '150000')
  // The namespace root is the container's cgroup: /proc/self/cgroup says "/" where the host sees a deep path.
  expect(await inside(`grep ${memoryLinePrefix} /proc/self/cgroup`)).toMatch(new RegExp(`${memoryLinePrefix}/$`))
  expect(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toMatch(new RegExp(`${memoryLinePrefix}.*/minicontainer-[0-9a-f]{6}/${c.id}$`, 'm'))
  expect(await inside(`(echo 99 > ${insidePath('pidsMax')}) 2>&1; cat ${insidePath('pidsMax')}`)).toMatch(/Read-only file system[\s\S]*33/)
  expect(await inside(`grep " ${isV2 ? '/sys/fs/cgroup' : '/sys/fs/cgroup/memory'} " /proc/self/mountinfo`)).toMatch(/ ro,/)
  // Both the program and exec'd processes are in it, as the host sees them.
  const procs = cgroupValue(pid, 'procs').split('\n').map(Number)
  expect(procs).toContain(pid)
  expect(await inside(`cat ${insidePath('procs')} | wc -l`)).toMatch(/^[2-9]$/)
  await c.remove({ force: true })
})

test('stats() samples cpu, memory against the limit, pids, network and block io; stream yields until stopped', async () => {
  const c = await run('host', ['sh', '-c', 'dd if=/dev/zero of=/tmp/blob bs=1M count=8 oflag=direct 2>/dev/null; touch /tmp/done; sleep 60'], { runtime, memory: '64m' })
  const pid = await pidOf(c)
  for (let i = 0; i < 200 && !fs.existsSync(`/proc/${pid}/root/tmp/done`); i++) await sleep(25)
  const { networkSettings } = await c.inspect()
  expect((await c.exec(['ping', '-c', '2', '-W', '1', networkSettings.gateway])).exitCode).toBe(0)
  // The network counters are those the kernel keeps for the container's eth0, read here through nsenter.
  const eth0 = () => {
    const dev = execFileSync('nsenter', ['-t', String(pid), '-n', 'cat', '/proc/net/dev']).toString()
    return dev.split('\n').find((l) => l.trim().startsWith('eth0:'))!.split(':')[1]!.trim().split(/\s+/).map(Number)
  }
  const before = eth0()
  const s = await c.stats()
  const after = eth0()
  expect(s.network.txPackets).toBeGreaterThanOrEqual(2)
  expect(s.network.txBytes).toBeGreaterThanOrEqual(before[8]!)
  expect(s.network.txBytes).toBeLessThanOrEqual(after[8]!)
  expect(s.network.rxBytes).toBeGreaterThanOrEqual(before[0]!)
  expect(s.network.rxBytes).toBeLessThanOrEqual(after[0]!)
  expect(s.memory.limit).toBe(64 * 1024 * 1024)
  expect(s.memory.usage).toBeGreaterThan(100_000)
  expect(s.memory.usage).toBeLessThan(64 * 1024 * 1024)
  expect(s.pids.current).toBe(Number(cgroupValue(pid, 'pidsCurrent')))
  expect(s.cpu.usageNs).toBeGreaterThan(0)
  // Block io is the kernel's blkio/io counter, as docker stats shows it (v1 on this kernel keeps it at 0 unless a device is throttled).
  expect(s.blockIo.write).toBe(Number(cgroupValue(pid, 'ioWriteBytes')))
  expect(s.cpu.usageNs).toBeLessThanOrEqual(Number(cgroupValue(pid, 'cpuUsageNs')))
  const samples = []
  const ac = new AbortController()
  for await (const sample of c.stats({ stream: true, intervalMs: 100, signal: ac.signal })) {
    samples.push(sample)
    if (samples.length === 3) ac.abort()
  }
  expect(samples).toHaveLength(3)
  expect(samples[2]!.cpu.usageNs).toBeGreaterThanOrEqual(samples[0]!.cpu.usageNs)
  await c.stop({ timeout: 0 })
  await expect(c.stats()).rejects.toMatchObject({ code: 'ENOTRUNNING' })
  await c.remove()
})

test('top() lists the container processes with host pids', async () => {
  const c = await run('host', ['sh', '-c', 'sleep 61 & sleep 62'], { runtime, network: 'none' })
  const pid = await pidOf(c)
  const expected = ['sh -c sleep 61 & sleep 62', 'sleep 61', 'sleep 62']
  const commands = async () => (await c.top()).map((p) => p.command).sort()
  for (let i = 0; i < 100 && JSON.stringify(await commands()) !== JSON.stringify(expected); i++) await sleep(20)
  const procs = await c.top()
  expect(procs.map((p) => p.command).sort()).toEqual(expected)
  expect(procs.find((p) => p.command === 'sleep 62')!.ppid).toBe(pid)
  expect(procs.every((p) => p.uid === 0 && p.rss > 0)).toBe(true)
  // The same pids as ps on the host shows as the children of the container's PID 1.
  const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)]).toString().trim().split(/\s+/).map(Number)
  expect(procs.map((p) => p.pid).filter((p) => p !== pid).sort()).toEqual(children.sort())
  await c.remove({ force: true })
})

test('limits the host cannot honour are refused at create, and nothing is created', async () => {
  const count = (await Container.list({ runtime, all: true })).length
  await expect(run('host', ['true'], { runtime, memory: '4m' })).rejects.toMatchObject({ code: 'EINVALID' })
  await expect(run('host', ['true'], { runtime, cpus: 1000 })).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringMatching(/CPUs/) })
  await expect(run('host', ['true'], { runtime, ulimits: { bogus: 1 } as never })).rejects.toMatchObject({ code: 'EINVALID' })
  expect(await Container.list({ runtime, all: true })).toHaveLength(count)
})
