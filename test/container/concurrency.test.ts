import * as crypto from 'node:crypto'
import * as fs from 'node:fs/promises'
import { promisify } from 'node:util'
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
  const containers = await Promise.all(Array.from({ length: 100 }, () => run('host', ['sleep', '60'], { runtime, network: 'none' })))
  let exited = 0
  const waits = containers.map((c) => c.wait().finally(() => exited++))
  // Work that needs libuv's thread pool (4 threads): were each pending wait() holding a thread, these
  // would queue behind 100 blocked calls and finish only when the containers exit, a minute from now.
  const t0 = Date.now()
  await Promise.all([
    ...Array.from({ length: 8 }, () => promisify(crypto.pbkdf2)('pw', 'salt', 1000, 32, 'sha256')),
    ...Array.from({ length: 20 }, () => fs.stat('/')),
  ])
  const latency = Date.now() - t0
  expect(exited).toBe(0)
  expect(latency).toBeLessThan(10_000)
  await Promise.all(containers.map((c) => c.remove({ force: true })))
  expect((await Promise.all(waits)).every((e) => e.exitCode === 137)).toBe(true)
})
