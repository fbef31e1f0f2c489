/**
 * Rootless, an rm: true container's overlay (userxattr, in a user namespace) is volatile too, and a
 * failed start's volatile mark is cleared by the user (or its keeper) so the layer mounts again.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Container, run, type Runtime } from '../../../lib'
import { busyboxImage, destroyRuntime, mountIsVolatile, superOptions, tempRuntime, text } from '../../helpers'

let rt: Runtime
beforeAll(async () => {
  expect(process.geteuid!()).not.toBe(0)
  rt = tempRuntime('mc-rl-volatile-')
  await busyboxImage(rt)
})
afterAll(() => destroyRuntime(rt))

/** Whether the root's line of a container's mountinfo says volatile; it is a userxattr overlay either way. */
function rootIsVolatile(mountinfo: string): boolean {
  expect(superOptions(mountinfo)).toContain('userxattr')
  return mountIsVolatile(mountinfo)
}

test("an rm: true container's userxattr overlay is volatile; a container without rm's is not", async () => {
  const rm = await run('bb', ['sh', '-c', "grep ' / / ' /proc/self/mountinfo"], { runtime: rt, network: 'none', rm: true })
  expect(await rm.wait()).toEqual({ exitCode: 0 })
  expect(rootIsVolatile(await text(rm.logs()))).toBe(true)
  const kept = await run('bb', ['sh', '-c', "grep ' / / ' /proc/self/mountinfo"], { runtime: rt, network: 'none' })
  expect(await kept.wait()).toEqual({ exitCode: 0 })
  expect(rootIsVolatile(await text(kept.logs()))).toBe(false)
  await kept.remove()
})

test('an rm: true container whose start failed gets its file copied in and starts', async () => {
  const c = await Container.create('bb', ['/given'], { runtime: rt, network: 'none', rm: true })
  await expect(c.start()).rejects.toMatchObject({ code: 'ESTART' })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rl-volatile-'))
  try {
    fs.writeFileSync(path.join(dir, 'given'), '#!/bin/sh\necho again\n', { mode: 0o755 })
    await c.copyTo(path.join(dir, 'given'), '/given')
  } finally {
    fs.rmSync(dir, { recursive: true })
  }
  await c.start()
  expect(await c.wait()).toEqual({ exitCode: 0 })
  expect(await text(c.logs())).toBe('again\n')
})
