/**
 * A start that fails inside a rootless container, as the user sees it (issue
 * 19's "a failed start"): the error names the step and the missing program,
 * the container is removed again, and nothing of it stays running or mounted.
 */
import * as fs from 'node:fs'
import { Container, run, type Runtime } from '../../../lib'
import { busyboxImage, destroyRuntime, tempRuntime } from '../../helpers'
import { rejection } from './env'

let rt: Runtime
beforeAll(async () => {
  expect(process.geteuid!()).not.toBe(0)
  rt = tempRuntime('mc-rl-failed-')
  await busyboxImage(rt)
})
afterAll(() => destroyRuntime(rt))

test('a program that does not exist: ESTART naming it, no container left, no process or mount of the runtime', async () => {
  const err = await rejection(run('bb', ['/no/such/program'], { runtime: rt, network: 'none' }))
  expect(err.code).toBe('ESTART')
  expect(err.message).toContain('/no/such/program')
  expect(await Container.list({ runtime: rt, all: true })).toEqual([])
  expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(rt.root)
  // The same runtime goes on: the next start works.
  const ok = await run('bb', ['true'], { runtime: rt, network: 'none' })
  expect(await ok.wait()).toEqual({ exitCode: 0 })
  await ok.remove()
})

test('a failed start on a user network leaves its network as it was: no endpoint, and the network removable', async () => {
  const { Network } = await import('../../../lib')
  const net = await Network.create(`rlfail${process.pid}`, { runtime: rt })
  const err = await rejection(run('bb', ['/no/such/program'], { runtime: rt, network: net.name }))
  expect(err.code).toBe('ESTART')
  expect(Object.keys((await net.inspect()).containers)).toEqual([])
  await net.remove()
})
