/**
 * Restart policies (`restart`): the owner process brings a container back
 * as Docker's daemon would (on-failure with its bound, always), with Docker's
 * delays, counting in `inspect().restartCount`; what the user stops or
 * kills stays stopped.
 */
import { run, type Container, type Runtime } from '../../lib'
import { nextRestartDelay, shouldRestart } from '../../lib/container/restart-policy'
import { sleep, text, useRuntime } from '../helpers'

jest.setTimeout(60_000)

let runtime: Runtime
useRuntime((r) => (runtime = r), { busybox: true, hostImage: false })

async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  for (const t0 = Date.now(); !(await check()); await sleep(20)) if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`)
}
const info = (c: Container) => c.inspect()

test("Docker's delays: 100 ms, doubled in a row up to a minute, back to 100 ms after 10 s of running; on-failure's bound", () => {
  const delays = [0]
  for (let i = 0; i < 12; i++) delays.push(nextRestartDelay(delays[delays.length - 1], 50))
  expect(delays.slice(1)).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000])
  expect(nextRestartDelay(60000, 10_000)).toBe(100)
  const ended = { exitCode: 1, manuallyStopped: false, restartCount: 2 }
  expect(shouldRestart({ name: 'on-failure', maximumRetryCount: 2 }, ended)).toBe(false)
  expect(shouldRestart({ name: 'on-failure', maximumRetryCount: 3 }, ended)).toBe(true)
  expect(shouldRestart({ name: 'on-failure', maximumRetryCount: 0 }, { ...ended, exitCode: 0 })).toBe(false)
  expect(shouldRestart({ name: 'unless-stopped', maximumRetryCount: 0 }, { ...ended, exitCode: 0 })).toBe(true)
  expect(shouldRestart({ name: 'always', maximumRetryCount: 0 }, { ...ended, manuallyStopped: true })).toBe(false)
})

test('on-failure:2: a failing program runs three times, 100 then 200 ms apart at least, and stays exited with restartCount 2', async () => {
  const t0 = Date.now()
  const c = await run('bb', ['sh', '-c', 'echo run; exit 3'], { runtime, restart: 'on-failure:2' })
  await until('two restarts', async () => (await info(c)).restartCount === 2 && !(await info(c)).state.running)
  expect(Date.now() - t0).toBeGreaterThanOrEqual(300)
  await sleep(1000) // a third restart would come 400 ms after the last exit
  const after = await info(c)
  expect([after.restartCount, after.state.status, after.state.exitCode]).toEqual([2, 'exited', 3])
  expect(after.hostConfig.restartPolicy).toEqual({ name: 'on-failure', maximumRetryCount: 2 })
  expect(await text(c.logs())).toBe('run\nrun\nrun\n')
  await c.remove()
})

test('on-failure: a program that succeeds is not restarted; no policy, none', async () => {
  const ok = await run('bb', ['true'], { runtime, restart: 'on-failure' })
  const failing = await run('bb', ['false'], { runtime })
  await ok.wait()
  await failing.wait()
  await sleep(500)
  for (const c of [ok, failing]) {
    expect((await info(c)).restartCount).toBe(0)
    expect((await info(c)).state.status).toBe('exited')
    await c.remove()
  }
})

test('always: an exit 0 comes back; a program killed from outside comes back with a new pid; stop() ends it for good, also while a restart is pending', async () => {
  const c = await run('bb', ['sh', '-c', 'echo run; sleep 0.05'], { runtime, restart: 'always' })
  await until('two restarts', async () => (await info(c)).restartCount >= 2)
  await c.stop()
  const stopped = (await info(c)).restartCount
  await sleep(1500)
  expect((await info(c)).restartCount).toBe(stopped)
  expect((await info(c)).state.status).toBe('exited')
  await c.remove()

  const long = await run('bb', ['sleep', '1000'], { runtime, restart: 'unless-stopped' })
  const firstPid = (await info(long)).state.pid
  process.kill(firstPid, 'SIGKILL')
  await until('a restart', async () => (await info(long)).restartCount === 1 && (await info(long)).state.running)
  expect((await info(long)).state.pid).not.toBe(firstPid)
  await long.kill()
  await long.wait()
  await sleep(500)
  expect((await info(long)).state.status).toBe('exited')
  expect((await info(long)).restartCount).toBe(1)
  // Started again by hand: the count starts over, and the policy holds again.
  await long.start()
  expect((await info(long)).restartCount).toBe(0)
  await long.remove({ force: true })
})

test('bad policies are EINVALID, and restart with rm conflicts', async () => {
  for (const restart of ['sometimes', 'always:3', 'on-failure:x'])
    await expect(run('bb', ['true'], { runtime, restart: restart as 'always' })).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringContaining('restart') })
  await expect(run('bb', ['true'], { runtime, restart: 'always', rm: true })).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringContaining('conflicting options') })
})
