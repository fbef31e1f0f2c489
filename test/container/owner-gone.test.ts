/**
 * Nothing left after Ctrl-C (issue 24): the containers a process owned (not
 * detached, not kept) are garbage once it died, and the next runtime start
 * on its root removes them with their writable layer and anonymous volumes.
 * The owner is a child Node process, SIGKILLed as a Ctrl-C'd jest worker is.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Container, Runtime, Volume } from '../../lib'
import { busyboxImage, destroyRuntime, tempRuntime } from '../helpers'
import { firstLineThenKill, spawnNode } from '../tools/node-child'

jest.setTimeout(120_000)

let runtime: Runtime
beforeAll(async () => {
  runtime = tempRuntime()
  await busyboxImage(runtime)
})
afterAll(() => destroyRuntime(runtime))

interface Made {
  name: string
  id: string
  dir: string
  volume: string
}

/** Runs the owner: it makes its containers, prints them as JSON, and waits to be killed. */
async function ownerThatDies(root: string, names: { owned: string; kept: string; created: string; detached: string }): Promise<Record<string, Made>> {
  const child = spawnNode(
    `;(async () => {
      const { Runtime, run, Container } = lib()
      const runtime = new Runtime({ root: ${JSON.stringify(root)} })
      const made = {}
      const note = async (key, c) => {
        const info = await c.inspect()
        made[key] = { name: c.name, id: c.id, dir: info.graphDriver.data.upperDir.replace(/\\/upper$/, ''), volume: info.mounts[0].name }
      }
      const common = { runtime, network: 'none', volumes: ['/data'] }
      await note('owned', await run('bb', ['sleep', '300'], { ...common, name: ${JSON.stringify(names.owned)} }))
      await note('kept', await run('bb', ['sleep', '300'], { ...common, name: ${JSON.stringify(names.kept)}, keepOnOwnerDeath: true }))
      await note('created', await Container.create('bb', ['sleep', '300'], { ...common, name: ${JSON.stringify(names.created)} }))
      await note('detached', await run('bb', ['sleep', '300'], { ...common, name: ${JSON.stringify(names.detached)}, detach: true }))
      console.log(JSON.stringify(made))
      setInterval(() => {}, 1000)
    })().catch((e) => { console.error(e); process.exit(1) })`,
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  return JSON.parse(await firstLineThenKill(child)) as Record<string, Made>
}

test('after its owner is SIGKILLed, the next runtime start removes its containers with their layers and anonymous volumes; keepOnOwnerDeath and detach stay', async () => {
  const tag = `${process.pid}-${Date.now()}`
  const made = await ownerThatDies(runtime.root, { owned: `owned-${tag}`, kept: `kept-${tag}`, created: `created-${tag}`, detached: `detached-${tag}` })
  for (const m of Object.values(made)) expect(fs.existsSync(m.dir)).toBe(true)

  const next = new Runtime({ root: runtime.root })
  await next.ready()
  const left = (await Container.list({ runtime: next, all: true })).map((c) => c.name)
  expect(left).not.toContain(made.owned.name)
  expect(left).not.toContain(made.created.name)
  expect(fs.existsSync(made.owned.dir)).toBe(false)
  expect(fs.existsSync(made.created.dir)).toBe(false)
  const volumes = (await Volume.list({ runtime: next })).map((v) => v.name)
  expect(volumes).not.toContain(made.owned.volume)
  expect(volumes).not.toContain(made.created.volume)

  // Kept for a post-mortem: stopped (it died with its owner), its layer and volume there.
  const kept = await Container.get(made.kept.name, { runtime: next })
  const info = await kept.inspect()
  expect(info.state.status).toBe('exited')
  expect(info.hostConfig.keepOnOwnerDeath).toBe(true)
  expect(fs.existsSync(made.kept.dir)).toBe(true)
  expect(volumes).toContain(made.kept.volume)
  // Detached: it outlived its owner, and runs on.
  const detached = await Container.get(made.detached.name, { runtime: next })
  expect((await detached.inspect()).state.running).toBe(true)
  for (const c of [kept, detached]) await c.remove({ force: true, volumes: true })
})

test('a container whose owner lives is not collected by another runtime of the same root', async () => {
  const { run } = await import('../../lib')
  const c = await run('bb', ['true'], { runtime, network: 'none' })
  await c.wait()
  const other = new Runtime({ root: runtime.root })
  await other.ready()
  expect((await Container.get(c.id, { runtime: other })).id).toBe(c.id)
  await c.remove()
})

test('a runtime started while an owned container is still dying with its dead owner waits for it to end, then removes it', async () => {
  const { run } = await import('../../lib')
  const c = await run('bb', ['sleep', '300'], { runtime, network: 'none' })
  // Its owner is gone (a start time no process has), and it ends only once the next start has begun:
  // as right after a Ctrl-C, when the next run's first runtime starts before the kernel has killed it all.
  const stateFile = path.join(runtime.root, 'containers', c.id, 'state.json')
  fs.writeFileSync(stateFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(stateFile, 'utf8')), owner: { pid: process.pid, start: '1' } }))
  const { pid } = (await c.inspect()).state
  const kill = setTimeout(() => process.kill(pid, 'SIGKILL'), 300)
  try {
    const next = new Runtime({ root: runtime.root })
    await next.ready()
    expect((await Container.list({ runtime: next, all: true })).map((x) => x.id)).not.toContain(c.id)
  } finally {
    clearTimeout(kill)
    await c.remove({ force: true }).catch(() => {})
  }
})
