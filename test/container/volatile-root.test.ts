/**
 * A root never mounted again is mounted `volatile` (issue 20): its overlay's unmount then skips the
 * sync of the whole host filesystem. That is an rm: true container's and a build's RUN container's;
 * every other container's root stays a plain overlay, which a later start or file view mounts again
 * (a volatile one leaves work/work/incompat/volatile behind, and the next mount fails on it).
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Container, Image, run, type Runtime } from '../../lib'
import { mountFallbacks } from '../../lib/shim/spec'
import { mountIsVolatile, runOutput, text, useRuntime } from '../helpers'
import { useBuildContexts } from '../tools/build-context'

let runtime: Runtime
useRuntime((r) => (runtime = r), { hostImage: false, busybox: true })
const context = useBuildContexts('mc-volatile-ctx-')
afterEach(() => (mountFallbacks.force = false))

/** The root's line of the container's own /proc/self/mountinfo. */
const rootLine = ['sh', '-c', "grep ' / / ' /proc/self/mountinfo"]

describe.each([
  ['the new mount API', false],
  ['the option string of kernels before 6.8', true],
])('through %s', (_, legacy) => {
  test("an rm: true container's root overlay is volatile", async () => {
    mountFallbacks.force = legacy
    const c = await run('bb', rootLine, { runtime, network: 'none', rm: true })
    expect(await c.wait()).toEqual({ exitCode: 0 })
    const line = await text(c.logs())
    expect(line).toContain(' - overlay ')
    expect(mountIsVolatile(line)).toBe(true)
  })

  test("a container without rm is not volatile: stopped and started again, it runs and keeps its files", async () => {
    mountFallbacks.force = legacy
    const c = await run('bb', ['sh', '-c', "grep ' / / ' /proc/self/mountinfo; test -e /kept && cat /kept || echo written > /kept"], { runtime, network: 'none' })
    try {
      expect(await c.wait()).toEqual({ exitCode: 0 })
      expect(mountIsVolatile(await text(c.logs()))).toBe(false)
      const work = (await c.inspect()).graphDriver.data.workDir
      expect(fs.existsSync(path.join(work, 'work/incompat'))).toBe(false)
      await c.start()
      expect(await c.wait()).toEqual({ exitCode: 0 })
      expect((await text(c.logs())).trim().split('\n').at(-1)).toBe('written')
    } finally {
      await c.remove({ force: true })
    }
  })
})

test('an rm: true container committed before it exits gives an image with its files', async () => {
  const c = await run('bb', ['sh', '-c', 'echo mine > /made && touch /ready && sleep 30'], { runtime, network: 'none', rm: true })
  const upper = (await c.inspect()).graphDriver.data.upperDir
  for (let i = 0; i < 200 && !fs.existsSync(path.join(upper, 'ready')); i++) await new Promise((r) => setTimeout(r, 25))
  const img = await c.commit()
  await c.kill('SIGKILL')
  await c.wait()
  try {
    expect(await runOutput(runtime, img.id, ['cat', '/made'])).toBe('mine\n')
  } finally {
    await img.remove()
  }
})

test("an Image.build RUN step's root overlay is volatile; the built image's containers are not", async () => {
  const img = await Image.build(context({}), { runtime, network: 'none', noCache: true, dockerfile: { content: "FROM bb\nRUN grep ' / / ' /proc/self/mountinfo > /out\n" } })
  try {
    expect(mountIsVolatile(await runOutput(runtime, img.id, ['cat', '/out']))).toBe(true)
    expect(mountIsVolatile(await runOutput(runtime, img.id, rootLine))).toBe(false)
  } finally {
    await img.remove()
  }
})

test('a created rm: true container whose files were copied in before its start is volatile once started', async () => {
  // The view that copied the file mounted the layer first (not volatile): the start mounts it again.
  const c = await Container.create('bb', ['sh', '-c', "cat /given; grep ' / / ' /proc/self/mountinfo"], { runtime, network: 'none', rm: true, files: [{ target: '/given', content: 'given\n' }] })
  await c.start()
  expect(await c.wait()).toEqual({ exitCode: 0 })
  const [given, line] = (await text(c.logs())).split('\n')
  expect(given).toBe('given')
  expect(mountIsVolatile(line)).toBe(true)
})

test('an rm: true container whose start failed (its program missing) starts again once it is there', async () => {
  const c = await Container.create('bb', ['/given'], { runtime, network: 'none', rm: true })
  await expect(c.start()).rejects.toMatchObject({ code: 'ESTART' })
  // A view of the stopped container mounts its layer again, then so does the start.
  const script = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mc-volatile-')), 'given')
  try {
    fs.writeFileSync(script, '#!/bin/sh\necho again\n', { mode: 0o755 })
    await c.copyTo(script, '/given')
  } finally {
    fs.rmSync(path.dirname(script), { recursive: true })
  }
  await c.start()
  expect(await c.wait()).toEqual({ exitCode: 0 })
  expect(await text(c.logs())).toBe('again\n')
})
