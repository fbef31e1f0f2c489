/**
 * Run shims forked by the shim zygote (lib/shim/zygote.ts, native/zygote.c) instead of spawned:
 * what a spawned shim was, each is still, and none holds anything of another.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Image, run, type Container, type Runtime } from '../../lib'
import { Shim } from '../../lib/shim/shim'
import { ShimZygote } from '../../lib/shim/zygote'
import { closeQuietly, pipe, socketPair } from '../../lib/sys/libc'
import { sendWithFds } from '../../lib/sys/sockets'
import { nativeDir } from '../../lib/sys/native-dir'
import { SHIM_PROTOCOL_VERSION } from '../../lib/shim/protocol'
import { runNodeSync } from '../tools/node-child'
import { childProcesses, commandLine, destroyRuntime, sleep, tempRuntime, text } from '../helpers'

let runtime: Runtime

beforeAll(async () => {
  runtime = tempRuntime()
  await Image.fromHost({ runtime })
})
afterAll(() => destroyRuntime(runtime))

/** The fds of `pid` as what they refer to ("socket:[123]", "pipe:[45]", a path...), by number. */
function fdTargets(pid: number): Map<number, string> {
  const out = new Map<number, string>()
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`))
    try {
      out.set(Number(fd), fs.readlinkSync(`/proc/${pid}/fd/${fd}`))
    } catch {
      /* closed meanwhile */
    }
  return out
}

/** Our children that are run shims, and the zygote. */
function shims(): { run: number[]; zygote: number[] } {
  const lines = childProcesses(process.pid).map(([pid]) => [pid, commandLine(pid)] as const)
  return {
    run: lines.filter(([, cmd]) => cmd.startsWith('mc-shim run')).map(([pid]) => pid),
    zygote: lines.filter(([, cmd]) => cmd.startsWith('mc-shim zygote')).map(([pid]) => pid),
  }
}

test('shims forked at once are our children, read "mc-shim run <our pid>", and share no socket or pipe with a sibling or the zygote', async () => {
  const started: Container[] = []
  try {
    // Four at once: the spare and three forked on demand, plus the spare forked after them.
    started.push(...(await Promise.all(Array.from({ length: 4 }, () => run('host', ['sleep', '60'], { runtime, network: 'none' })))))
    const zygote = await settledZygotes()
    expect(zygote).toHaveLength(1)
    const shimPids = shims().run
    expect(shimPids.length).toBeGreaterThanOrEqual(4)
    for (const pid of shimPids) expect(commandLine(pid)).toBe(`mc-shim run ${process.pid}`)
    // Sockets and pipes are the channels one process could use on another's behalf, or hold open for it.
    const channels = (pid: number) => new Set([...fdTargets(pid).values()].filter((t) => /^(socket|pipe):/.test(t)))
    const zygoteChannels = channels(zygote[0])
    for (const pid of shimPids) {
      const own = channels(pid)
      expect({ pid, shared: [...own].filter((t) => zygoteChannels.has(t)) }).toEqual({ pid, shared: [] })
      for (const other of shimPids.filter((p) => p !== pid)) expect({ pid, other, shared: [...own].filter((t) => channels(other).has(t)) }).toEqual({ pid, other, shared: [] })
    }
  } finally {
    await Promise.all(started.map((c) => c.remove({ force: true })))
  }
})

test("a forked shim's container gets stdio and exit status as a spawned one's did", async () => {
  const cs = await Promise.all(Array.from({ length: 3 }, (_, i) => run('host', ['sh', '-c', `echo out-${i}; echo err-${i} >&2; exit ${i + 3}`], { runtime, network: 'none' })))
  try {
    for (const [i, c] of cs.entries()) {
      expect((await c.wait()).exitCode).toBe(i + 3)
      const logged = await text(c.logs())
      expect(logged).toContain(`out-${i}`)
      expect(logged).toContain(`err-${i}`)
    }
  } finally {
    await Promise.all(cs.map((c) => c.remove({ force: true })))
  }
})

/** The zygote's pid once a container ran (the run starts it). */
async function zygoteAfterARun(): Promise<number> {
  const first = await run('host', ['true'], { runtime, network: 'none' })
  await first.wait()
  await first.remove()
  // Not a shim the zygote just forked, still named after it (stopping or killing that one instead left
  // it "mc-shim zygote" for good beside the real one).
  const found = await settledZygotes()
  expect(found).toHaveLength(1)
  return found[0]!
}

/** The zygotes once there is one, for up to 5 s: a shim just forked reads "mc-shim zygote" until it renames itself. */
async function settledZygotes(): Promise<number[]> {
  for (const t0 = Date.now(); Date.now() - t0 < 5000 && shims().zygote.length !== 1; ) await sleep(20)
  return shims().zygote
}

/** After one more start, the single zygote, which is not `old` (the spare refilled after the start is forked by it). */
async function expectReplacedZygote(old: number): Promise<void> {
  const later = await run('host', ['true'], { runtime, network: 'none' })
  await later.wait()
  await later.remove()
  const zygote = await settledZygotes()
  expect(zygote).toHaveLength(1)
  expect(zygote[0]).not.toBe(old)
}

test('a zygote killed under a burst costs no start: their shims are spawned instead, and a later start forks from a new zygote', async () => {
  const killed = await zygoteAfterARun()
  process.kill(killed, 'SIGKILL')
  const cs = await Promise.all(Array.from({ length: 4 }, () => run('host', ['true'], { runtime, network: 'none' })))
  try {
    expect(await Promise.all(cs.map(async (c) => (await c.wait()).exitCode))).toEqual([0, 0, 0, 0])
  } finally {
    await Promise.all(cs.map((c) => c.remove({ force: true })))
  }
  await expectReplacedZygote(killed)
  // Reaped, not left a zombie of ours.
  expect(fs.existsSync(`/proc/${killed}`)).toBe(false)
})

test('a stopped zygote costs a start at most its 2 s bound: it is killed, the shims are spawned, and a later start forks from a new zygote', async () => {
  const stopped = await zygoteAfterARun()
  process.kill(stopped, 'SIGSTOP')
  const t0 = Date.now()
  // More than the spare: at least one asks the stopped zygote (without a bound, it and every later start waited forever).
  const cs = await Promise.all(Array.from({ length: 3 }, () => run('host', ['true'], { runtime, network: 'none' })))
  try {
    expect(await Promise.all(cs.map(async (c) => (await c.wait()).exitCode))).toEqual([0, 0, 0])
  } finally {
    await Promise.all(cs.map((c) => c.remove({ force: true })))
  }
  expect(Date.now() - t0).toBeLessThan(8000)
  // Killed and reaped, not left stopped (nor a zombie of ours).
  expect(fs.existsSync(`/proc/${stopped}`)).toBe(false)
  await expectReplacedZygote(stopped)
}, 30_000)

/** What of a process's state a shim inherits from whoever made it: signals, seccomp, privileges, umask, cwd, root. */
function inherited(pid: number): Record<string, string> {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const fields = ['SigBlk', 'SigIgn', 'SigCgt', 'Seccomp', 'NoNewPrivs', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'Umask']
  return {
    ...Object.fromEntries(fields.map((f) => [f, new RegExp(`^${f}:\\s+(\\S+)`, 'm').exec(status)?.[1] ?? 'absent'])),
    cwd: fs.readlinkSync(`/proc/${pid}/cwd`),
    root: fs.readlinkSync(`/proc/${pid}/root`),
    stdio: [0, 1, 2].map((fd) => fs.readlinkSync(`/proc/${pid}/fd/${fd}`)).join(' '),
  }
}

test('a forked shim waiting for its spec carries what a spawned one does: signal dispositions and mask, no seccomp, privileges, umask, cwd, root, stdio', async () => {
  const zygote = await ShimZygote.start()
  const devNull = fs.openSync('/dev/null', 'r+')
  const made: Shim[] = []
  try {
    made.push(await Shim.spawnAsync('run', { stdin: devNull, stdout: devNull, stderr: devNull }, false), await Shim.forkedBy(zygote))
    const [spawned, forked] = made
    // Both have set themselves up (owner's threads watched, warm namespace made) once their network namespace is their own.
    const ownNet = (pid: number) => fs.readlinkSync(`/proc/${pid}/ns/net`) !== fs.readlinkSync('/proc/self/ns/net')
    for (const t0 = Date.now(); Date.now() - t0 < 5000 && !made.every((s) => ownNet(s.shimPid)); ) await sleep(10)
    expect(inherited(forked.shimPid)).toEqual(inherited(spawned.shimPid))
  } finally {
    fs.closeSync(devNull)
    for (const s of made) s.kill()
    await Promise.all(made.map((s) => s.hold(s.closed)))
    await zygote.stop()
  }
})

test('a shim forked after process.umask() changed has the new umask, as one spawned then has (not the zygote\'s)', async () => {
  const zygote = await ShimZygote.start()
  const devNull = fs.openSync('/dev/null', 'r+')
  const made: Shim[] = []
  const before = process.umask(0o027)
  try {
    made.push(await Shim.spawnAsync('run', { stdin: devNull, stdout: devNull, stderr: devNull }, false), await Shim.forkedBy(zygote))
    const [spawned, forked] = made
    // The zygote answers with the pid at once: read the shims once they have set themselves up.
    const ownNet = (pid: number) => fs.readlinkSync(`/proc/${pid}/ns/net`) !== fs.readlinkSync('/proc/self/ns/net')
    for (const t0 = Date.now(); Date.now() - t0 < 5000 && !made.every((s) => ownNet(s.shimPid)); ) await sleep(10)
    expect(inherited(zygote.pid).Umask).toBe(before.toString(8).padStart(4, '0'))
    expect([inherited(spawned.shimPid).Umask, inherited(forked.shimPid).Umask]).toEqual(['0027', '0027'])
  } finally {
    process.umask(before)
    fs.closeSync(devNull)
    for (const s of made) s.kill()
    await Promise.all(made.map((s) => s.hold(s.closed)))
    await zygote.stop()
  }
})

/** Where the stack of `pid` lies: a forked process's is its parent's, an exec'd one's is placed anew. */
function stackOf(pid: number): string {
  return /^(\S+) .*\[stack\]$/m.exec(fs.readFileSync(`/proc/${pid}/maps`, 'utf8'))?.[1] ?? 'none'
}

/** Our children that are exec shims. */
function execShims(): number[] {
  return childProcesses(process.pid)
    .map(([pid]) => pid)
    .filter((pid) => commandLine(pid).startsWith('mc-shim exec'))
}

test('exec shims are forked by the zygote, read "mc-shim exec <our pid>", have pipes of their own as stdio, and share no socket or pipe with a sibling, the zygote or the run shim', async () => {
  const c = await run('host', ['sleep', '60'], { runtime, network: 'none' })
  try {
    const { zygote, run: runShims } = shims()
    expect(zygote).toHaveLength(1)
    // Three at once, sleeping long enough for us to look at their shims.
    const execs = ['a', 'b', 'c'].map((tag) => c.exec(['sh', '-c', `sleep 2; echo ${tag}-out; echo ${tag}-err >&2`]))
    for (const t0 = Date.now(); Date.now() - t0 < 5000 && execShims().length < 3; ) await sleep(10)
    const execPids = execShims()
    expect(execPids).toHaveLength(3)
    for (const pid of execPids) {
      expect(commandLine(pid)).toBe(`mc-shim exec ${process.pid}`)
      expect({ pid, stack: stackOf(pid) }).toEqual({ pid, stack: stackOf(zygote[0]) })
    }
    const channels = (pid: number) => new Set([...fdTargets(pid).values()].filter((t) => /^(socket|pipe):/.test(t)))
    const others = [...zygote, ...runShims]
    for (const pid of execPids) {
      const fds = fdTargets(pid)
      // stdin, stdout, stderr: three pipes of its own, and its control socket as fd 3 (the others it opened itself).
      expect([0, 1, 2, 3].map((fd) => /^(pipe|socket):/.exec(fds.get(fd) ?? '')?.[1])).toEqual(['pipe', 'pipe', 'pipe', 'socket'])
      expect(new Set([0, 1, 2].map((fd) => fds.get(fd))).size).toBe(3)
      const own = channels(pid)
      for (const other of [...others, ...execPids.filter((p) => p !== pid)]) expect({ pid, other, shared: [...own].filter((t) => channels(other).has(t)) }).toEqual({ pid, other, shared: [] })
    }
    const results = await Promise.all(execs)
    expect(results.map((r) => [r.exitCode, r.stdout, r.stderr]).sort()).toEqual([
      [0, 'a-out\n', 'a-err\n'],
      [0, 'b-out\n', 'b-err\n'],
      [0, 'c-out\n', 'c-err\n'],
    ])
  } finally {
    await c.remove({ force: true })
  }
})

/** Pids of processes whose command line starts with `prefix` (any parent: an exec's program is the shim's child). */
function processesRunning(prefix: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ').startsWith(prefix)
      } catch {
        return false
      }
    })
    .map(Number)
}

test('aborting an exec whose shim the zygote forked kills its process group (a background child too), rejects EABORTED, and leaves no shim', async () => {
  const c = await run('host', ['sleep', '60'], { runtime, network: 'none' })
  try {
    const tag = `${process.pid}${Date.now() % 100000}`
    const ac = new AbortController()
    const exec = c.exec(['sh', '-c', `sleep 1${tag} & sleep 2${tag}; echo never`], { signal: ac.signal })
    for (const t0 = Date.now(); Date.now() - t0 < 5000 && processesRunning(`sleep 2${tag}`).length === 0; ) await sleep(10)
    const [shim] = execShims()
    expect(shim).toBeDefined()
    expect(stackOf(shim)).toBe(stackOf(shims().zygote[0]))
    ac.abort()
    await expect(exec).rejects.toMatchObject({ code: 'EABORTED' })
    for (const t0 = Date.now(); Date.now() - t0 < 5000 && processesRunning(`sleep 1${tag}`).length + execShims().length > 0; ) await sleep(10)
    expect({ programs: [...processesRunning(`sleep 1${tag}`), ...processesRunning(`sleep 2${tag}`)], shims: execShims() }).toEqual({ programs: [], shims: [] })
  } finally {
    await c.remove({ force: true })
  }
})

test('with the zygote gone, an exec shim is spawned, and the exec succeeds', async () => {
  const c = await run('host', ['sleep', '60'], { runtime, network: 'none' })
  try {
    const [killed] = shims().zygote
    expect(killed).toBeDefined()
    process.kill(killed, 'SIGKILL')
    // Dead: a zombie, or already reaped (the runtime's SIGCHLD handling may get there first).
    const dead = () => { try { return fs.readFileSync(`/proc/${killed}/stat`, 'utf8').split(' ')[2] === 'Z' } catch { return true } }
    for (const t0 = Date.now(); Date.now() - t0 < 5000 && !dead(); ) await sleep(10)
    expect(dead()).toBe(true)
    const result = await c.exec(['sh', '-c', 'echo out; echo err >&2; exit 3'])
    expect(result).toEqual({ exitCode: 3, stdout: 'out\n', stderr: 'err\n' })
  } finally {
    await c.remove({ force: true })
  }
})

test('a request the zygote does not serve (an exec with too few fds) is refused with EINVAL, its fds closed, and the zygote forks on', async () => {
  const zygote = await ShimZygote.start()
  const [r, w] = pipe()
  const made: Shim[] = []
  try {
    // The raw protocol: 'E' and Node's umask (int32, -1: unknown) want the control socket and three stdio fds; this passes two.
    const socket = Reflect.get(zygote, 'socket') as number
    const request = Buffer.alloc(5)
    request.write('E')
    request.writeInt32LE(-1, 1)
    sendWithFds(socket, request, [w, w])
    const reply = Buffer.alloc(4)
    expect(fs.readSync(socket, reply)).toBe(4)
    expect(reply.readInt32LE()).toBe(-22)
    // The zygote holds neither end of the pipe: a kept writer would hold an exec's output open.
    const ours = fs.readlinkSync(`/proc/self/fd/${w}`)
    expect([...fdTargets(zygote.pid).values()].filter((t) => t === ours)).toEqual([])
    made.push(await Shim.forkedBy(zygote))
    // The child renames itself just after the fork.
    const renamed = () => commandLine(made[0].shimPid) === `mc-shim run ${process.pid}`
    for (const t0 = Date.now(); Date.now() - t0 < 5000 && !renamed(); ) await sleep(10)
    expect(commandLine(made[0].shimPid)).toBe(`mc-shim run ${process.pid}`)
  } finally {
    for (const fd of [r, w]) closeQuietly(fd)
    for (const s of made) s.kill()
    await Promise.all(made.map((s) => s.hold(s.closed)))
    await zygote.stop()
  }
})

test('20 run shims asked of one zygote at once are 20 shims of ours, each with its own control socket; a batch to a killed zygote fails every request', async () => {
  const zygote = await ShimZygote.start()
  const made: Shim[] = []
  try {
    // Asked in one tick: the first turn sends one request, the next takes the 19 queued meanwhile (batches of 16 and 3).
    made.push(...(await Promise.all(Array.from({ length: 20 }, () => Shim.forkedBy(zygote)))))
    const pids = made.map((s) => s.shimPid)
    expect(new Set(pids).size).toBe(20)
    const renamed = () => pids.every((pid) => commandLine(pid) === `mc-shim run ${process.pid}`)
    for (const t0 = Date.now(); Date.now() - t0 < 5000 && !renamed(); ) await sleep(10)
    expect(pids.map(commandLine)).toEqual(pids.map(() => `mc-shim run ${process.pid}`))
    // Each shim's fd 3 is a socket of its own: no answer went to the wrong request.
    const controls = pids.map((pid) => fs.readlinkSync(`/proc/${pid}/fd/3`))
    expect(controls.every((t) => t.startsWith('socket:'))).toBe(true)
    expect(new Set(controls).size).toBe(20)
    process.kill(zygote.pid, 'SIGKILL')
    const failed = await Promise.allSettled(Array.from({ length: 5 }, () => Shim.forkedBy(zygote)))
    expect(failed.map((r) => r.status)).toEqual(Array(5).fill('rejected'))
    expect(zygote.usable).toBe(false)
  } finally {
    for (const s of made) s.kill()
    await Promise.all(made.map((s) => s.hold(s.closed)))
    await zygote.stop()
  }
})

/** Our children named mc-shim, zombies included (a shim nobody reaps stays one for good). */
function shimChildrenAnyState(): number[] {
  const out: number[] = []
  for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x)))
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === process.pid && stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === 'mc-shim') out.push(Number(p))
    } catch {
      /* exited meanwhile */
    }
  return out
}

test('a shim forked for a request nobody waits for any more (answered after its batch gave up at the 2 s bound) is killed and reaped when the zygote stops, not left a zombie of ours', async () => {
  const zygote = await ShimZygote.start()
  const before = new Set(shimChildrenAnyState())
  const orphans = () => shimChildrenAnyState().filter((pid) => pid !== zygote.pid && !before.has(pid))
  const [ours, theirs] = socketPair()
  try {
    // A run shim's request as a batch sends it ('F', then a umask of -1: unknown), whose answer no request reads:
    // the one that sent it gave up, and closed its end of the shim's control socket (Shim.started).
    const request = Buffer.alloc(5)
    request.write('F')
    request.writeInt32LE(-1, 1)
    sendWithFds((zygote as unknown as { socket: number }).socket, request, [theirs])
  } finally {
    closeQuietly(theirs)
    closeQuietly(ours)
  }
  for (const t0 = Date.now(); Date.now() - t0 < 5000 && orphans().length === 0; ) await sleep(10)
  expect(orphans()).toHaveLength(1) // forked: our child (CLONE_PARENT), whose pid only the unread answer names
  await zygote.stop()
  expect(orphans()).toEqual([])
})

/**
 * An mc-shim for a native directory `dir`: the real one, except that its zygote is asked for
 * protocol `zygoteProtocol` (with another than ours, the real zygote's refusal: it exits at once);
 * each zygote started appends a line to `<dir>/zygotes`.
 */
function shimWrapper(dir: string, zygoteProtocol: string): string {
  const real = JSON.stringify(path.join(nativeDir, 'mc-shim'))
  return `#!/bin/sh
if [ "$1" = zygote ]; then echo "$$" >> ${JSON.stringify(path.join(dir, 'zygotes'))}; exec ${real} zygote "$2" ${zygoteProtocol}; fi
exec ${real} "$@"
`
}

test('a zygote of another protocol is started once: later starts spawn their shims, until the shim binary changes', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-zygote-proto-'))
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-zygote-root-'))
  try {
    fs.symlinkSync(path.join(nativeDir, 'libmcnative.so'), path.join(dir, 'libmcnative.so'))
    fs.writeFileSync(path.join(dir, 'mc-shim'), shimWrapper(dir, String(SHIM_PROTOCOL_VERSION + 1)), { mode: 0o755 })
    const zygotes = path.join(dir, 'zygotes')
    const r = runNodeSync(
      `const { Runtime, Image, run } = lib()
      const fs = require('node:fs')
      const started = () => (fs.existsSync(${JSON.stringify(zygotes)}) ? fs.readFileSync(${JSON.stringify(zygotes)}, 'utf8').trim().split('\\n').length : 0)
      ;(async () => {
        const runtime = new Runtime({ root: ${JSON.stringify(root)} })
        await Image.fromHost({ runtime })
        const runs = async (n) => {
          const codes = []
          for (let i = 0; i < n; i++) {
            const c = await run('host', ['true'], { runtime, network: 'none' })
            codes.push((await c.wait()).exitCode)
            await c.remove()
            await new Promise((r) => setTimeout(r, 100)) // the spare is refilled meanwhile
          }
          return codes
        }
        const mismatched = { codes: await runs(4), zygotes: started() }
        // A rebuild of our protocol: another file in its place.
        fs.writeFileSync(${JSON.stringify(path.join(dir, 'mc-shim.new'))}, ${JSON.stringify(shimWrapper(dir, '"$3"'))}, { mode: 0o755 })
        fs.renameSync(${JSON.stringify(path.join(dir, 'mc-shim.new'))}, ${JSON.stringify(path.join(dir, 'mc-shim'))})
        const rebuilt = { codes: await runs(2), zygotes: started() }
        const last = fs.readFileSync(${JSON.stringify(zygotes)}, 'utf8').trim().split('\\n').pop()
        rebuilt.lastRunning = fs.existsSync('/proc/' + last) && !/^\\S+ \\S+ Z/.test(fs.readFileSync('/proc/' + last + '/stat', 'utf8').replace(/\\(.*\\)/, 'x'))
        await runtime.close()
        console.log(JSON.stringify({ mismatched, rebuilt }))
      })()`,
      { env: { MINICONTAINER_NATIVE_DIR: dir } },
    )
    expect(r.stderr).toBe('')
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '')
    // Without the memory of the refusal, every shim wanted started a zygote that exited at once.
    expect(out.mismatched).toEqual({ codes: [0, 0, 0, 0], zygotes: 1 })
    // The binary changed (a rebuild of our protocol): a zygote is started again, and forks from then on.
    expect(out.rebuilt).toEqual({ codes: [0, 0], zygotes: 2, lastRunning: true })
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
    fs.rmSync(root, { recursive: true, force: true })
  }
}, 60_000)
