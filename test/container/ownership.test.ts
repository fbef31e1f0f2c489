import * as fs from 'node:fs'
import * as path from 'node:path'
import { spawn, spawnSync } from 'node:child_process'
import { Container, Image, type Runtime } from '../../lib'
import { destroyRuntime, sleep, tempRuntime } from '../helpers'

const dist = path.resolve(__dirname, '../../dist')
let runtime: Runtime

beforeAll(async () => {
  runtime = tempRuntime()
  await Image.fromHost({ runtime })
})
afterAll(() => destroyRuntime(runtime))

/** Runs a Node script in a child process that starts a container and prints its pid. */
function childStarting(opts: string): { pid: Promise<number>; exited: Promise<void>; child: ReturnType<typeof spawn> } {
  const script = `const { run, Runtime } = require(${JSON.stringify(dist)});
    (async () => {
      const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)} })
      const c = await run('host', ['sleep', '60'], { runtime, ${opts} })
      console.log((await c.inspect()).state.pid)
      setInterval(() => {}, 1000)
    })()`
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
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

test('rm: true of a container whose owner died is cleaned at the next runtime start', () => {
  const script = `const { run, Runtime, Container } = require(${JSON.stringify(dist)});
    (async () => {
      const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)} })
      await run('host', ['sleep', '60'], { runtime, rm: true, name: 'orphan-rm' })
      process.kill(process.pid, 'SIGKILL')
    })()`
  spawnSync(process.execPath, ['-e', script])
  const check = `const { Runtime, Container } = require(${JSON.stringify(dist)});
    (async () => {
      const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)} })
      const all = await Container.list({ runtime, all: true })
      console.log(JSON.stringify(all.map((c) => c.name)))
    })()`
  let names: string[] = []
  for (let i = 0; i < 50; i++) {
    names = JSON.parse(spawnSync(process.execPath, ['-e', check], { encoding: 'utf8' }).stdout)
    if (!names.includes('orphan-rm')) break
  }
  expect(names).not.toContain('orphan-rm')
})
