import * as fs from 'node:fs'
import { Container, Image, type Runtime } from '../../lib'
import { destroyRuntime, sleep, tempRuntime } from '../helpers'
import { nodeOutput, nodeScript, runNodeSync, spawnNode } from '../tools/node-child'

let runtime: Runtime

beforeAll(async () => {
  runtime = tempRuntime()
  await Image.fromHost({ runtime })
})
afterAll(() => destroyRuntime(runtime))

/** Runs a Node script in a child process that starts a container and prints its pid. */
function childStarting(opts: string): { pid: Promise<number>; exited: Promise<void>; child: ReturnType<typeof spawnNode> } {
  const script = `const { run, Runtime } = lib();
    (async () => {
      const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)} })
      const c = await run('host', ['sleep', '60'], { runtime, ${opts} })
      console.log((await c.inspect()).state.pid)
      setInterval(() => {}, 1000)
    })()`
  const child = spawnNode(script, { stdio: ['ignore', 'pipe', 'inherit'] })
  const pid = new Promise<number>((resolve) => child.stdout!.once('data', (d) => resolve(Number(String(d).trim()))))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return { pid, exited, child }
}

const alive = (pid: number) => fs.existsSync(`/proc/${pid}`) && !/State:\s+Z/.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))

async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(20)) if (cond()) return true
  return cond()
}

test('an owned container dies when its Node process is SIGKILLed', async () => {
  const { pid, exited, child } = childStarting(`name: 'owned'`)
  const containerPid = await pid
  expect(alive(containerPid)).toBe(true)
  child.kill('SIGKILL')
  await exited
  expect(await until(() => !alive(containerPid))).toBe(true)
  const c = await Container.get('owned', { runtime })
  expect((await c.inspect()).state).toMatchObject({ status: 'exited', running: false, exitCode: 137 })
  await c.remove()
})

test('a detached container outlives its Node process and its exit code is recorded', async () => {
  const { pid, exited, child } = childStarting(`name: 'detached', detach: true`)
  const containerPid = await pid
  child.kill('SIGKILL')
  await exited
  await sleep(100)
  expect(alive(containerPid)).toBe(true)
  const c = await Container.get('detached', { runtime })
  expect((await c.inspect()).state.running).toBe(true)
  expect((await Container.list({ runtime })).map((x) => x.name)).toContain('detached')
  // Another process (this one) stops it and reads the exit code recorded by the shim.
  const waited = c.wait()
  process.kill(containerPid, 'SIGKILL')
  expect(await waited).toEqual({ exitCode: 137, signal: 'SIGKILL' })
  await c.remove()
})

test('rm: true of a container whose owner died is cleaned at the next runtime start', async () => {
  const owner = runNodeSync(`const { run, Runtime } = lib();
    (async () => {
      const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)} })
      const c = await run('host', ['sleep', '60'], { runtime, rm: true, name: 'orphan-rm' })
      console.log((await c.inspect()).state.pid)
      process.kill(process.pid, 'SIGKILL')
    })()`)
  // The owner got as far as starting the container, then died without removing it.
  expect(owner).toMatchObject({ signal: 'SIGKILL', stderr: '' })
  const containerPid = Number(owner.stdout.trim())
  expect(containerPid).toBeGreaterThan(1)
  expect(await until(() => !alive(containerPid))).toBe(true)
  // Read straight from the store (a Container call would collect it): the record is still there.
  const recordNames = () => runtime.containers.ids().map((id) => runtime.containers.read(id)?.name)
  expect(recordNames()).toContain('orphan-rm')
  // A new process opening the root collects it at its start.
  const listed = JSON.parse(
    nodeOutput(`const { Runtime, Container } = lib();
      (async () => {
        const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)} })
        console.log(JSON.stringify((await Container.list({ runtime, all: true })).map((c) => c.name)))
      })()`),
  )
  expect(listed).not.toContain('orphan-rm')
  expect(recordNames()).not.toContain('orphan-rm')
})

/** pid, parent pid and command name of every process, from /proc. */
function processes(): { pid: number; ppid: number; comm: string; cmdline: string }[] {
  const out = []
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

/** Lines of a child's stream, as they come. */
function lines(stream: NodeJS.ReadableStream): { next: (match: RegExp, ms?: number) => Promise<string> } {
  let seen = ''
  stream.on('data', (d) => (seen += String(d)))
  return {
    next: async (match, ms = 20_000) => {
      const ok = await until(() => match.test(seen), ms)
      if (!ok) throw new Error(`no line matching ${match} in:\n${seen.slice(-3000)}`)
      return seen.match(match)![0]
    },
  }
}

test('an owner that dies before its shim watches it leaves no container, even when a subreaper adopts the shim', async () => {
  // The shim learns that its owner died by PR_SET_PDEATHSIG, which is only armed once the spec has
  // been read; an owner dying before that must be noticed by the shim itself (man 2 prctl: compare
  // getppid() afterwards). The reparenting target is not always pid 1: here a subreaper adopts it.
  const marker = `mc-orphan-${process.pid}-${Date.now()}`
  // The container's shell (the scripts below carry the marker in their argv too).
  const orphans = () => processes().filter((p) => p.cmdline.startsWith('sh -c') && p.cmdline.includes(marker))
  const owner = `const { run, Runtime } = lib();
    (async () => {
      const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)} })
      const warmup = await run('host', ['true'], { runtime, network: 'none' })
      await warmup.wait()
      await warmup.remove()
      await new Promise((r) => setTimeout(r, 300)) // the pool's spare shim is spawned meanwhile
      console.log('owner ' + process.pid)
      process.stdin.once('data', () => run('host', ['sh', '-c', 'sleep 600; echo ${marker}'], { runtime, network: 'none' }).catch(() => {}))
    })()`
  const reaper = spawnNode(
    `require('koffi').load('libc.so.6').func('int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long)')(36 /* PR_SET_CHILD_SUBREAPER */, 1, 0, 0, 0)
    require('node:child_process').spawn(process.execPath, ['-e', process.argv[1]], { stdio: 'inherit', env: { ...process.env, NODE_DEBUG: 'minicontainer' } })
    setInterval(() => {}, 1000)`,
    { stdio: ['pipe', 'pipe', 'pipe'] },
    [nodeScript(owner)],
  )
  const out = lines(reaper.stdout!)
  const err = lines(reaper.stderr!)
  let spare: number | undefined
  try {
    const ownerPid = Number((await out.next(/owner \d+/)).split(' ')[1])
    const shims = processes().filter((p) => p.ppid === ownerPid && p.comm === 'mc-shim')
    expect(shims).toHaveLength(1)
    spare = shims[0].pid
    // Hold the spare shim before it reads its spec, let the owner send one, and kill the owner.
    process.kill(spare, 'SIGSTOP')
    reaper.stdin!.write('go\n')
    await err.next(new RegExp(`shim ${spare} spec:`))
    process.kill(ownerPid, 'SIGKILL')
    expect(await until(() => processes().find((p) => p.pid === spare)?.ppid === reaper.pid)).toBe(true)
    process.kill(spare, 'SIGCONT')
    expect(await until(() => !alive(spare!))).toBe(true)
    await sleep(200)
    expect(orphans()).toEqual([])
  } finally {
    for (const p of [...orphans(), ...processes().filter((x) => x.pid === spare)]) process.kill(p.pid, 'SIGKILL')
    reaper.kill('SIGKILL')
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
