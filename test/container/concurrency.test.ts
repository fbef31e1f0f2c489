import { run, type Runtime } from '../../lib'
import { text, useRuntime } from '../helpers'

let runtime: Runtime

useRuntime((r) => (runtime = r))

test('50 containers start at once, each isolated, and all are cleaned up', async () => {
  const containers = await Promise.all(Array.from({ length: 50 }, (_, i) => run('host', ['sh', '-c', `echo $$ ${i} $(hostname)`], { runtime, hostname: `c${i}`, network: 'none' })))
  const exits = await Promise.all(containers.map((c) => c.wait()))
  expect(exits.every((e) => e.exitCode === 0)).toBe(true)
  const outputs = await Promise.all(containers.map((c) => text(c.logs())))
  outputs.forEach((o, i) => expect(o).toBe(`1 ${i} c${i}\n`))
  await Promise.all(containers.map((c) => c.remove()))
})

test('a hundred running containers do not starve the thread pool', async () => {
  const containers = await Promise.all(Array.from({ length: 100 }, () => run('host', ['sleep', '30'], { runtime, network: 'none' })))
  const waits = containers.map((c) => c.wait())
  // fs calls still complete promptly while 100 exits are being awaited.
  const fs = await import('node:fs/promises')
  await Promise.all(Array.from({ length: 20 }, () => fs.stat('/')))
  await Promise.all(containers.map((c) => c.remove({ force: true })))
  expect((await Promise.all(waits)).every((e) => e.exitCode === 137)).toBe(true)
})
