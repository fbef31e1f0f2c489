/**
 * The start breakdown's stamps (`npm run bench -- start --breakdown`): every
 * step of run() -> observed exit is stamped once, Node's and the shim's on one
 * clock (CLOCK_MONOTONIC), in the order the start path takes them.
 */
import { run, type Runtime } from '../../lib'
import { closeTrace, openTrace, stamp } from '../../lib/util/start-trace'
import { useRuntime } from '../helpers'

let runtime: Runtime

useRuntime((r) => (runtime = r), { busybox: true })

/** The start path in order; a step's stamp may equal the one before it at the clock's resolution, never precede it. */
const startPath = [
  'node: run called', 'node: created', 'node: layer locked', 'node: network joined', 'node: cgroup prepared', 'node: spec built',
  'node: spec encoded', 'shim: spec read', 'shim: clone', 'child: running', 'child: cgroup joined', 'child: mounts',
  'child: pivot_root', 'child: identity', 'child: seccomp installed', 'shim: exec seen', 'node: start reported', 'node: state written',
]
// With rm: true the exit is settled by removing the container; the shim's own end (its teardown) comes after wait() resolved.
const exitPath = ['shim: exit seen', 'node: exit reported', 'node: exit settled', 'test: wait() resolved']

describe('start breakdown', () => {
  test('stamps every step of a run with rm: true, in order, on one clock with the shim', async () => {
    const trace = openTrace()
    try {
      const c = await run('bb:latest', ['/bin/true'], { runtime, network: 'none', rm: true })
      expect(await c.wait()).toEqual({ exitCode: 0 })
      stamp('test: wait() resolved')
    } finally {
      closeTrace()
    }
    for (const step of [...startPath, ...exitPath]) expect([step, trace.has(step)]).toEqual([step, true])
    const inOrder = (steps: string[]) => steps.forEach((step, i) => i > 0 && expect([step, trace.get(step)! >= trace.get(steps[i - 1]!)!]).toEqual([step, true]))
    inOrder(startPath)
    // The shim learns of the exit after the program ran: after it reported the start, before Node hears of the exit.
    inOrder(['shim: exec seen', ...exitPath])
  })

  test('stamps nothing without an open trace, and a closed trace takes no more stamps', async () => {
    const trace = openTrace()
    closeTrace()
    const c = await run('bb:latest', ['/bin/true'], { runtime, network: 'none', rm: true })
    await c.wait()
    expect(trace.size).toBe(0)
  })
})
