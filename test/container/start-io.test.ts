/**
 * The start path does no work twice (issue 20): what a create and start read and touch in the runtime
 * root, observed with strace and inotify.
 */
import * as path from 'node:path'
import { Container, type Runtime } from '../../lib'
import { useRuntime } from '../helpers'
import { syscallsOnPath } from '../tools/strace'

jest.setTimeout(120_000)

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { busybox: true })

test('a start without a health check never touches health.json', async () => {
  await using c = await Container.create('bb', ['true'], { runtime, network: 'none' })
  const health = path.join(runtime.root, 'containers', c.id, 'health.json')
  const calls = await syscallsOnPath(process.pid, health, async () => {
    await c.start()
    await c.wait()
  })
  expect(calls).toEqual([])
})
