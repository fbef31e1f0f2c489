import * as fs from 'node:fs'
import { Container, Image, type Runtime } from '../../lib'
import { destroyRuntime, sleep, tempRuntime } from '../helpers'
import { nodeOutput, runNodeSync, spawnNode } from '../tools/node-child'

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
