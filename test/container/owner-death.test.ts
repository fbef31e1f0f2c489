/**
 * The moments in which an owner or a shim can die without its container
 * noticing (issue 12, finding 2), each held open on purpose: the shim
 * stopped before it arms PR_SET_PDEATHSIG (SIGSTOP), the container child
 * held before it arms its own (strace's syscall delay). And the other side:
 * a thread of the owner that ends on its own kills nothing.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { spawn, type ChildProcess } from 'node:child_process'
import { Container, Image, type Runtime } from '../../lib'
import { detectLayout, parseProcCgroup } from '../../lib/cgroups/layout'
import { destroyRuntime, kernelAtLeast, sleep, tempRuntime, timeScale } from '../helpers'
import { nodeScript, runtimeWithSpareShim, spawnNode } from '../tools/node-child'
import { SHIM_PROTOCOL_VERSION } from '../../lib/shim/protocol'

let runtime: Runtime

beforeAll(async () => {
  runtime = tempRuntime()
  await Image.fromHost({ runtime })
})
afterAll(() => destroyRuntime(runtime))

interface Proc {
  pid: number
  ppid: number
  comm: string
  cmdline: string
}

/** Every process, from /proc. */
function processes(): Proc[] {
  const out: Proc[] = []
  for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8')
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      out.push({ pid: Number(p), ppid, comm, cmdline: fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ') })
    } catch {
      /* exited meanwhile */
    }
  }
  return out
}

/** Running, not a zombie; a process that vanishes between two reads is not alive. */
function alive(pid: number): boolean {
  try {
    return !/State:\s+Z/.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  } catch {
    return false
  }
}

async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(20)) if (cond()) return true
  return cond()
}

/** What a child printed so far, and a wait for a pattern in it. */
function lines(stream: NodeJS.ReadableStream): { next: (match: RegExp, ms?: number) => Promise<string> } {
  let seen = ''
  stream.on('data', (d) => (seen += String(d)))
  return {
    next: async (match, ms = 20_000 * timeScale) => {
      if (!(await until(() => match.test(seen), ms))) throw new Error(`no line matching ${match} in:\n${seen.slice(-3000)}`)
      return seen.match(match)![0]
    },
  }
}

/**
 * An owner process with a spare shim ready (spawned, waiting for a spec);
 * `go()` makes it run `sh -c 'sleep 600; echo <marker>'`. Under a subreaper
 * when asked (the reaper prints the owner's output, NODE_DEBUG on).
 */
async function ownerWithSpareShim(subreaper: boolean) {
  const marker = `mc-orphan-${process.pid}-${Date.now()}`
  const owner = `const { run, Runtime } = lib();
    (async () => {
      ${runtimeWithSpareShim(runtime.root)}
      console.log('owner ' + process.pid)
      process.stdin.once('data', () => run('host', ['sh', '-c', 'sleep 600; echo ${marker}'], { runtime, network: 'none' }).catch(() => {}))
      setInterval(() => {}, 1000)
    })()`
  const env = { ...process.env, NODE_DEBUG: 'minicontainer' }
  const proc: ChildProcess = subreaper
    ? spawnNode(
        `require('koffi').load('libc.so.6').func('int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long)')(36 /* PR_SET_CHILD_SUBREAPER */, 1, 0, 0, 0)
        require('node:child_process').spawn(process.execPath, ['-e', process.argv[1]], { stdio: 'inherit' })
        setInterval(() => {}, 1000)`,
        { stdio: ['pipe', 'pipe', 'pipe'], env },
        [nodeScript(owner)],
      )
    : spawnNode(owner, { stdio: ['pipe', 'pipe', 'pipe'], env })
  const out = lines(proc.stdout!)
  const ownerPid = Number((await out.next(/owner \d+/)).split(' ')[1])
  const shims = processes().filter((p) => p.ppid === ownerPid && p.comm === 'mc-shim')
  // The zygote (lib/shim/zygote.ts) and the spare it forked, also the owner's child.
  expect(shims.map((p) => p.cmdline.trim().replace(/ +/g, ' ')).sort()).toEqual([`mc-shim run ${ownerPid}`, `mc-shim zygote ${ownerPid} ${SHIM_PROTOCOL_VERSION}`])
  return {
    proc,
    ownerPid,
    spare: shims.find((p) => p.cmdline.startsWith('mc-shim run'))!.pid,
    zygote: shims.find((p) => p.cmdline.startsWith('mc-shim zygote'))!.pid,
    err: lines(proc.stderr!),
    go: () => proc.stdin!.write('go\n'),
    // The container's shell (the owner's argv carries the marker too).
    orphans: () => processes().filter((p) => p.cmdline.startsWith('sh -c') && p.cmdline.includes(marker)),
  }
}

/** Kills what a test may have left: orphaned containers, the given pids, the owner (or its reaper). */
function killAll(o: Awaited<ReturnType<typeof ownerWithSpareShim>> | undefined, pids: number[]): void {
  for (const pid of [...(o?.orphans().map((p) => p.pid) ?? []), ...pids, ...(o ? [o.ownerPid] : [])])
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      /* gone */
    }
  o?.proc.kill('SIGKILL')
}

test('an owner that dies before its shim watches it leaves no container, even when a subreaper adopts the shim', async () => {
  // The shim arms PR_SET_PDEATHSIG once it has its spec; an owner dying before that must be noticed
  // by the shim itself (man 2 prctl: compare getppid() afterwards). The shim is then adopted by the
  // nearest subreaper, not always by pid 1.
  let o: Awaited<ReturnType<typeof ownerWithSpareShim>> | undefined
  try {
    o = await ownerWithSpareShim(true)
    const { spare } = o
    // Hold the spare shim before it reads its spec, let the owner send one, and kill the owner.
    process.kill(spare, 'SIGSTOP')
    o.go()
    await o.err.next(new RegExp(`shim ${spare} spec:`))
    process.kill(o.ownerPid, 'SIGKILL')
    expect(await until(() => processes().find((p) => p.pid === spare)?.ppid === o!.proc.pid)).toBe(true)
    process.kill(spare, 'SIGCONT')
    expect(await until(() => !alive(spare))).toBe(true)
    await sleep(200)
    expect(o.orphans()).toEqual([])
  } finally {
    killAll(o, o ? [o.spare] : [])
  }
})

test("the shim zygote and the spare it forked end with their owner's SIGKILL, and a container started from a forked shim with it", async () => {
  // The zygote is the owner's child with PDEATHSIG SIGKILL; the spare it forked is the owner's child too
  // (CLONE_PARENT), so PDEATHSIG and the owner watch hold for it as for a spawned one.
  let o: Awaited<ReturnType<typeof ownerWithSpareShim>> | undefined
  try {
    o = await ownerWithSpareShim(false)
    o.go()
    await o.err.next(new RegExp(`shim ${o.spare} says: S \\d+`))
    // One sh: its fork for `sleep 600` shows sh's command line too until it has exec'd (seen once under load).
    expect(await until(() => o!.orphans().length === 1)).toBe(true)
    process.kill(o.ownerPid, 'SIGKILL')
    expect(await until(() => !alive(o!.zygote) && !alive(o!.spare))).toBe(true)
    expect(await until(() => o!.orphans().length === 0)).toBe(true)
  } finally {
    killAll(o, o ? [o.spare, o.zygote] : [])
  }
})

test('a container whose shim dies between clone() and the container arming its own PDEATHSIG never runs', async () => {
  // strace (the observer here, not the library) delays each process's first prctl by 1.5 s: the
  // shim's (harmless: its owner lives) and then the container child's, PR_SET_PDEATHSIG right after
  // clone(). The shim is killed while the child waits, so the signal can never come.
  let o: Awaited<ReturnType<typeof ownerWithSpareShim>> | undefined
  let strace: ChildProcess | undefined
  let child: number | undefined
  try {
    o = await ownerWithSpareShim(false)
    const { spare } = o
    strace = spawn('strace', ['-f', '-o', '/dev/null', '-e', 'trace=prctl', '-e', 'inject=prctl:delay_enter=1500000:when=1', '-p', String(spare)], { stdio: ['ignore', 'ignore', 'pipe'] })
    const failed = new Promise<never>((_, reject) => strace!.once('error', (e) => reject(new Error(`strace is needed for this test (apt-get install strace): ${e.message}`))))
    await Promise.race([lines(strace.stderr!).next(new RegExp(`Process ${spare} attached`)), failed])
    o.go()
    expect(await until(() => (child = processes().find((p) => p.ppid === spare)?.pid) !== undefined, 10_000)).toBe(true)
    process.kill(spare, 'SIGKILL')
    // The child leaves on its own once its prctl returns; before the fix it went on to run the program.
    expect(await until(() => !alive(child!) || o!.orphans().length > 0, 10_000)).toBe(true)
    await sleep(300)
    expect(o.orphans()).toEqual([])
    expect(alive(child!)).toBe(false)
  } finally {
    strace?.kill('SIGKILL')
    killAll(o, child ? [child] : [])
  }
})

test('containers started from a worker_thread run on when that thread ends, and die with the process', async () => {
  // PR_SET_PDEATHSIG fires when the shim's parent *thread* exits: shims, and the zygote that forks them,
  // are spawned from one of libuv's threads (which live as long as the process), not the worker's.
  const script = `const { run, Runtime } = lib();
    const { Worker } = require('node:worker_threads');
    const worker = new Worker(${JSON.stringify(`
      const { parentPort } = require('node:worker_threads')
      require(${JSON.stringify(path.join(__dirname, '../tools/ts-register.js'))})
      const { run, Runtime } = require(${JSON.stringify(path.join(__dirname, '../../lib'))})
      ;(async () => {
        const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)} })
        // network 'none': a netlink reply arriving during worker.terminate() can abort the process inside the
        // netlink addon (a known limit of that dependency, README "Worker threads"); test/container/worker-thread.test.ts
        // covers a terminated worker's networked containers once its work has settled.
        const cs = await Promise.all([1, 2, 3].map((i) => run('host', ['sleep', '60'], { runtime, name: 'from-worker-' + i, network: 'none' })))
        parentPort.postMessage(await Promise.all(cs.map(async (c) => (await c.inspect()).state.pid)))
      })()
    `)}, { eval: true })
    worker.once('message', (pids) => {
      console.log('pids ' + pids.join(' '))
      worker.terminate().then(() => setTimeout(() => console.log('worker gone'), 300))
    })
    setInterval(() => {}, 1000)`
  const child = spawnNode(script, { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    const out = lines(child.stdout!)
    const pids = (await out.next(/pids[\d ]+/)).split(' ').slice(1).map(Number)
    await out.next(/worker gone/)
    expect(pids.map(alive)).toEqual([true, true, true])
    child.kill('SIGKILL')
    expect(await until(() => !pids.some(alive), 2000)).toBe(true)
  } finally {
    child.kill('SIGKILL')
  }
  for (const i of [1, 2, 3]) await (await Container.get(`from-worker-${i}`, { runtime })).remove({ force: true })
})

/** pidfd_open(PIDFD_THREAD) exists: Linux 6.9 and later. */
const hasPidfdThread = kernelAtLeast(6, 9)

/** The processes or threads that `pid`'s pidfds refer to (the "Pid:" of their fdinfo). */
function pidfdTargets(pid: number): number[] {
  return fs.readdirSync(`/proc/${pid}/fdinfo`).flatMap((fd) => {
    try {
      const m = /^Pid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))
      return m ? [Number(m[1])] : []
    } catch {
      return [] /* closed meanwhile */
    }
  })
}

test("a spare shim holds pidfds of its owner's threads before any start: the start's watcher has nothing left to open", async () => {
  // The watcher thread used to open them (and read the owner's /proc status) once the program ran,
  // and the shim joined it before reporting the exit: a short program's exit waited for that setup
  // (0.6-1.1 ms of the start bench's p50). The spare shim now opens them while it waits in the pool.
  let o: Awaited<ReturnType<typeof ownerWithSpareShim>> | undefined
  try {
    o = await ownerWithSpareShim(false)
    const spare = o.spare
    // The spare's one child, the old root's helper (mc-old-root), is watched by a pidfd of its own, to be reaped.
    const children = () => fs.readFileSync(`/proc/${spare}/task/${spare}/children`, 'utf8').split(' ').filter(Boolean).map(Number)
    const ownerWatches = () => pidfdTargets(spare).filter((tid) => !children().includes(tid))
    // Opened as soon as the spare runs, before it reads a spec (a loaded machine may not have run it yet).
    const opened = await until(() => ownerWatches().length > 0)
    const watched = ownerWatches()
    if (!hasPidfdThread) {
      // A thread's pidfd needs PIDFD_THREAD (6.9): before it the shim opens none, and PDEATHSIG alone tells it (VM lane, 6.1).
      expect({ opened, watched }).toEqual({ opened: false, watched: [] })
      return
    }
    const threads = fs.readdirSync(`/proc/${o.ownerPid}/task`).map(Number)
    expect(watched).toContain(o.ownerPid)
    expect(watched.length).toBeGreaterThan(1)
    expect(watched.filter((tid) => !threads.includes(tid))).toEqual([])
  } finally {
    killAll(o, [])
  }
})

test('a thread of the owner ending on its own (a worker_thread) does not kill its containers', async () => {
  // The shim watches every thread of its owner so as to learn of a SIGKILL before the main thread exits.
  const script = `const { run, Runtime } = lib();
    const { Worker } = require('node:worker_threads');
    (async () => {
      const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)} })
      const worker = new Worker("require('node:worker_threads').parentPort.once('message', () => process.exit(0))", { eval: true })
      await new Promise((r) => worker.once('online', r))
      const c = await run('host', ['sleep', '60'], { runtime, name: 'worker-owner' })
      console.log((await c.inspect()).state.pid)
      worker.once('exit', () => setTimeout(() => console.log('worker gone'), 200))
      worker.postMessage('end')
      setInterval(() => {}, 1000)
    })()`
  const child = spawnNode(script, { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    const out = lines(child.stdout!)
    const containerPid = Number((await out.next(/^\d+/m)).trim())
    await out.next(/worker gone/)
    expect(alive(containerPid)).toBe(true)
    child.kill('SIGKILL')
    expect(await until(() => !alive(containerPid), 2000)).toBe(true)
  } finally {
    child.kill('SIGKILL')
  }
  await (await Container.get('worker-owner', { runtime })).remove({ force: true })
})

/** The fields of one thread's stat from its state on (index 0 is proc(5)'s field 3). */
function threadFields(pid: number, tid: number): string[] {
  const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/** The v1 cpu hierarchy's directory of `pid`'s cgroup when the host has real-time group scheduling (cpu.rt_runtime_us), else undefined. */
function rtGroupDir(pid: number): string | undefined {
  const layout = detectLayout()
  if (layout.name !== 'v1' && layout.name !== 'hybrid') return undefined
  const cpu = layout.hierarchies.find((h) => h.controllers.includes('cpu'))
  const rel = cpu && parseProcCgroup(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8')).get('cpu')
  const dir = cpu && rel !== undefined ? path.join(cpu.mountPoint, rel) : undefined
  return dir && fs.existsSync(path.join(dir, 'cpu.rt_runtime_us')) ? dir : undefined
}

/**
 * The watcher's designed priority where the shim runs: SCHED_FIFO (policy 1) unless the shim's
 * cgroup has no real-time budget (cgroup v1 with RT group scheduling, cpu.rt_runtime_us 0), where
 * it is an ordinary thread at nice -20 (native/owner.c, hasten()).
 */
function expectedWatcher(shim: number): { policy: number; nice: number } {
  const dir = rtGroupDir(shim)
  const budget = dir ? Number(fs.readFileSync(path.join(dir, 'cpu.rt_runtime_us'), 'utf8')) : Infinity
  return budget > 0 ? { policy: 1, nice: 0 } : { policy: 0, nice: -20 }
}

/**
 * An owner's SIGKILL through the watcher, checked step by step; with `cgroupDir`, the owner (and
 * so its shim) runs in that v1 cpu cgroup.
 */
async function killOwnerThroughWatcher(name: string, cgroupDir?: string): Promise<{ policy: number; nice: number }> {
  const join = cgroupDir ? `require('node:fs').writeFileSync(${JSON.stringify(path.join(cgroupDir, 'cgroup.procs'))}, String(process.pid))` : ''
  const script = `const { run, Runtime } = lib();
    (async () => {
      ${join}
      const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)} })
      const c = await run('host', ['sh', '-c', 'echo up; exec sleep 60'], { runtime, name: ${JSON.stringify(name)}, network: 'none' })
      console.log('pid ' + (await c.inspect()).state.pid)
      setInterval(() => {}, 1000)
    })()`
  const child = spawnNode(script, { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    const out = lines(child.stdout!)
    const containerPid = Number((await out.next(/pid \d+/)).split(' ')[1])
    const shim = processes().find((p) => p.pid === containerPid)!.ppid
    // The watcher starts right after the shim says the program runs. It is born SCHED_FIFO where
    // the cgroup allows; where it does not, nice -20 is its own first step, so that one is awaited.
    expect(await until(() => fs.readdirSync(`/proc/${shim}/task`).length === 2)).toBe(true)
    const expected = expectedWatcher(shim)
    // The main thread's tid is the shim's pid; the other one is the watcher. Fields 41 (policy), 19 (nice).
    // Where SCHED_FIFO is refused, glibc made a thread for the refused attributes and ended it: the
    // watcher is the second thread, so it is looked up again until it has its nice.
    const policyAndNice = (tid: number) => [41, 19].map((n) => Number(threadFields(shim, tid)[n - 3]))
    const watcher = (): number[] | undefined => {
      try {
        const tid = fs.readdirSync(`/proc/${shim}/task`).map(Number).find((t) => t !== shim)
        return tid === undefined ? undefined : policyAndNice(tid)
      } catch {
        return undefined // the refused thread ended between the two reads
      }
    }
    if (expected.policy === 1) expect(watcher()).toEqual([1, 0])
    await until(() => watcher()?.[1] === expected.nice, 2000)
    // The main thread (the log) waits for the exec and the exit hastened as the watcher is, and is an
    // ordinary thread again from the program's first output (native/shim.c, await_exit): "up".
    expect(await until(() => policyAndNice(shim).join() === '0,0', 2000)).toBe(true)
    expect(watcher()).toEqual([expected.policy, expected.nice])
    const t0 = process.hrtime.bigint()
    child.kill('SIGKILL')
    expect(await until(() => !alive(containerPid), 2000)).toBe(true)
    const c = await Container.get(name, { runtime })
    const exitFile = `${runtime.root}/containers/${c.id}/exit`
    expect(await until(() => fs.existsSync(exitFile), 2000)).toBe(true)
    const [code, signal, , ...steps] = fs.readFileSync(exitFile, 'utf8').trim().split(' ')
    expect([code, signal]).toEqual(['137', '9'])
    const [notified, killed, exited, reaped] = steps.map(BigInt)
    expect(notified).toBeGreaterThan(t0)
    expect(killed).toBeGreaterThanOrEqual(notified)
    // The SIGKILL's stamp is taken after the send, so the exit may be seen before it (a watcher
    // at nice -20 can be preempted between the two); never before the death was noticed.
    expect(exited).toBeGreaterThan(notified)
    expect(reaped).toBeGreaterThanOrEqual(exited)
    expect(reaped - t0).toBeLessThan(2_000_000_000n)
    expect((await c.inspect()).state.exitCode).toBe(137)
    await c.remove({ force: true })
    return expected
  } finally {
    child.kill('SIGKILL')
  }
}

test("an owner's SIGKILL reaches the container through a real-time watcher, and the exit file times each step on the monotonic clock", async () => {
  // The shim's watcher thread is SCHED_FIFO where its cgroup allows, its main thread (the log) is
  // not once the program has written. The exit file's fields after FinishedAt: the owner's death noticed, SIGKILL sent, exit
  // seen, reaped, in CLOCK_MONOTONIC ns (process.hrtime's clock), so the steps can be checked.
  await killOwnerThroughWatcher('timed-owner')
})

// Where the host schedules real-time tasks per cgroup (cgroup v1, CONFIG_RT_GROUP_SCHED), a new
// cpu cgroup has no real-time budget, as Docker's and every CI job's container: the watcher is then
// an ordinary thread at nice -20, from its first moment, and the owner's death still kills.
const rtGroups = rtGroupDir(process.pid) !== undefined
;(rtGroups ? test : test.skip)('in a cgroup without a real-time budget the watcher runs at nice -20, and still kills', async () => {
  const dir = path.join(rtGroupDir(process.pid)!, `mc-test-nort-${process.pid}`)
  fs.mkdirSync(dir)
  try {
    expect(fs.readFileSync(path.join(dir, 'cpu.rt_runtime_us'), 'utf8').trim()).toBe('0')
    expect(await killOwnerThroughWatcher('nort-owner', dir)).toEqual({ policy: 0, nice: -20 })
  } finally {
    // The owner's runtime nested its scope (minicontainer-<tag>) in this cgroup: empty, bottom-up.
    const removeCgroup = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) removeCgroup(path.join(d, e.name))
      fs.rmdirSync(d)
    }
    expect(await until(() => fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').trim() === '')).toBe(true)
    removeCgroup(dir)
  }
})
