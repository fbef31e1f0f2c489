/**
 * Liveness of a recorded process (lib/util/process-identity.ts, lib/container/liveness.ts) on real
 * pids: a process that has ended is never alive, with or without a recorded start time. A "running"
 * state has none when its program ended before the start reads it (lib/container/container.ts).
 */
import { spawn, spawnSync } from 'node:child_process'
import { Container, type Runtime } from '../../lib'
import { isAlive, processStartTime } from '../../lib/util/process-identity'
import { programRuns, waitForeign } from '../../lib/container/liveness'
import { busyboxImage, destroyRuntime, tempRuntime } from '../helpers'

/** The pid of a process that ran and was reaped. */
function gonePid(): number {
  const pid = spawnSync('true').pid
  expect(processStartTime(pid)).toBeUndefined()
  return pid
}

const noShims = { shims: new Map() } as unknown as Parameters<typeof programRuns>[0]

test('a pid that has ended is not alive, whether its start time was recorded or not; a running one is, with its own start time only', async () => {
  const gone = gonePid()
  expect(isAlive(gone, undefined)).toBe(false)
  expect(isAlive(gone, '12345')).toBe(false)
  const sleeper = spawn('sleep', ['30'])
  try {
    const pid = sleeper.pid!
    expect(isAlive(pid, processStartTime(pid))).toBe(true)
    expect(isAlive(pid, undefined)).toBe(false)
    expect(isAlive(pid, '1')).toBe(false)
  } finally {
    sleeper.kill('SIGKILL')
  }
})

test('a "running" state without a start time whose pid has ended: the program does not run, and a foreign wait on it ends', async () => {
  const state = { status: 'running' as const, pid: gonePid() }
  expect(programRuns(noShims, 'x'.repeat(64), state)).toBe(false)
  // No exit file: only the process vanishing can end the wait.
  const waited = await Promise.race([waitForeign('/nonexistent/exit', '/tmp', state, false).then(() => 'ended'), new Promise((r) => setTimeout(r, 5000, 'still waiting').unref())])
  expect(waited).toBe('ended')
})

describe('a container', () => {
  let runtime: Runtime
  beforeAll(async () => {
    runtime = tempRuntime()
    await busyboxImage(runtime)
  })
  afterAll(() => destroyRuntime(runtime))

  test('recorded as running without a start time, whose program has ended, is seen as exited (killed)', async () => {
    const c = await Container.create('bb', ['true'], { runtime, network: 'none', name: `nostart-${process.pid}-${Date.now()}` })
    try {
      runtime.containers.writeState(c.id, { status: 'running', pid: gonePid(), startedAt: new Date().toISOString() })
      const { state } = await c.inspect()
      expect(state.status).toBe('exited')
      expect(state.exitCode).toBe(137)
    } finally {
      await c.remove({ force: true })
    }
  })
})
