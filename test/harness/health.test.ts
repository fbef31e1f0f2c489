/**
 * Health checks as Docker runs them: healthy, unhealthy after `retries`
 * failures, the start period, the last 5 results, the image's HEALTHCHECK
 * and its override, and forHealthCheck.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Image, run, Wait, type Runtime } from '../../lib'
import { busyboxRootfs, useRuntime } from '../helpers'

// Importing the host and busybox images hashes every file: slow on a loaded machine.
jest.setTimeout(180_000)

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { busybox: true })

test('a passing check makes the container healthy and forHealthCheck resolves', async () => {
  await using c = await run('bb', ['sh', '-c', 'sleep 0.3; touch /tmp/up; exec sleep 60'], {
    runtime, network: 'none',
    healthcheck: { test: ['CMD', 'test', '-f', '/tmp/up'], interval: 100, startInterval: 50, startPeriod: 2000, retries: 2 },
    waitFor: Wait.forHealthCheck(), startupTimeout: 10_000,
  })
  const h = (await c.inspect()).state.health!
  expect(h.status).toBe('healthy')
  expect(h.failingStreak).toBe(0)
  expect(h.log[h.log.length - 1].exitCode).toBe(0)
  // Failures during the start period were logged but not counted.
  expect(h.log.length).toBeGreaterThanOrEqual(1)
})

test('a failing check goes unhealthy after `retries` failures, keeps the last 5 results, and forHealthCheck fails with EUNHEALTHY', async () => {
  const t0 = Date.now()
  const err = await run('bb', ['sleep', '60'], {
    runtime, network: 'none', name: 'sick', keepOnFailure: true,
    healthcheck: { test: ['CMD-SHELL', 'echo checking; exit 1'], interval: 50, retries: 3 },
    waitFor: Wait.forHealthCheck(),
  }).catch((e) => e)
  expect(err.code).toBe('EUNHEALTHY')
  expect(err.message).toContain('last check said: checking')
  expect(Date.now() - t0).toBeGreaterThanOrEqual(150)
  const { Container } = await import('../../lib')
  await using c = await Container.get('sick', { runtime })
  // Checks continue after unhealthy, as in Docker: the streak grows, the log keeps 5.
  let h = (await c.inspect()).state.health!
  for (let i = 0; i < 100 && h.failingStreak < 6; i++) {
    await new Promise((r) => setTimeout(r, 50))
    h = (await c.inspect()).state.health!
  }
  expect(h.status).toBe('unhealthy')
  expect(h.failingStreak).toBeGreaterThanOrEqual(6)
  expect(h.log).toHaveLength(5)
  expect(h.log.every((r) => r.exitCode === 1 && r.output === 'checking\n')).toBe(true)
})

test("a check that hangs past its timeout counts as a failure with Docker's text, and is killed", async () => {
  await using c = await run('bb', ['sleep', '60'], {
    runtime, network: 'none', healthcheck: { test: ['CMD', 'sleep', '5'], interval: 50, timeout: 100, retries: 1 },
  })
  await expect(c.waitFor(Wait.forHealthCheck(), { timeout: 20_000 })).rejects.toMatchObject({ code: 'EUNHEALTHY' })
  const h = (await c.inspect()).state.health!
  expect(h.log[0]).toMatchObject({ exitCode: -1, output: 'Health check exceeded timeout (100ms)' })
  // The result is recorded once the check is gone: only PID 1 and at most the check running now.
  const sleepers = (await c.top()).filter((p) => p.command.includes('sleep 5'))
  expect(sleepers.length).toBeLessThanOrEqual(1)
  await c.stop({ timeout: 0 })
})

test('a timed-out CMD-SHELL check leaves no process behind: the shell and what it started are killed', async () => {
  // No new check after the first (interval 1 min): every process it made must be gone, none merely replaced.
  // The first check is scheduled inside the start period (so after startInterval, not interval), and its
  // failure, recorded after 50 + 150 ms, falls outside it and counts. (A 1 ms start period could be over
  // before the first check is scheduled, which then waits the whole interval, as in Docker.)
  await using c = await run('bb', ['sleep', '60'], {
    runtime, network: 'none', init: true,
    healthcheck: { test: ['CMD-SHELL', 'sleep 7; echo never'], interval: 60_000, startInterval: 50, startPeriod: 100, timeout: 150, retries: 1 },
  })
  // A generous wait: on a loaded machine the exec alone can take seconds. That the check was killed,
  // not waited out, is what its recorded duration shows: well under the 7 s its command would take.
  await expect(c.waitFor(Wait.forHealthCheck(), { timeout: 20_000 })).rejects.toMatchObject({ code: 'EUNHEALTHY' })
  const check = (await c.inspect()).state.health!.log[0]!
  expect(check).toMatchObject({ exitCode: -1, output: 'Health check exceeded timeout (150ms)' })
  expect(Date.parse(check.end) - Date.parse(check.start)).toBeLessThan(6000)
  const procs = await c.top()
  expect(procs.map((p) => p.command).filter((cmd) => /sleep 7/.test(cmd))).toEqual([])
  // Nothing else in the container's cgroup either: init and its program only.
  expect(procs).toHaveLength(2)
  expect(procs.map((p) => p.command)).toContain('sleep 60')
  // And from the host: neither the shell nor its sleep runs anywhere.
  const hostSleepers = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((pid) => {
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      return cmdline.includes('sleep 7; echo never') || cmdline === 'sleep\x007\x00'
    } catch {
      return false
    }
  })
  expect(hostSleepers).toEqual([])
})

test("the image's HEALTHCHECK applies unless overridden or disabled with NONE", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-hc-'))
  try {
    busyboxRootfs(dir)
    await Image.import(dir, { runtime, ref: 'bb-health:1', config: { cmd: ['sleep', '60'], healthcheck: { test: ['CMD-SHELL', 'exit 0'], interval: 50e6 } } })
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  await using a = await run('bb-health:1', undefined, { runtime, network: 'none', waitFor: Wait.forHealthCheck(), startupTimeout: 20_000 })
  expect((await a.inspect()).state.health?.status).toBe('healthy')
  await using b = await run('bb-health:1', undefined, { runtime, network: 'none', healthcheck: { test: ['CMD-SHELL', 'exit 1'], interval: 50, retries: 1 } })
  await expect(b.waitFor(Wait.forHealthCheck(), { timeout: 20_000 })).rejects.toMatchObject({ code: 'EUNHEALTHY' })
  await using c = await run('bb-health:1', undefined, { runtime, network: 'none', healthcheck: { test: ['NONE'] } })
  expect((await c.inspect()).state.health).toBeUndefined()
  await expect(c.waitFor(Wait.forHealthCheck())).rejects.toMatchObject({ code: 'EINVALID' })
})

test('malformed healthcheck options are EINVALID', async () => {
  await expect(run('bb', ['true'], { runtime, healthcheck: { test: ['sh', 'x'] } })).rejects.toMatchObject({ code: 'EINVALID' })
  await expect(run('bb', ['true'], { runtime, healthcheck: { test: ['CMD'] } })).rejects.toMatchObject({ code: 'EINVALID' })
  await expect(run('bb', ['true'], { runtime, healthcheck: { test: ['CMD', 'true'], interval: -1 } })).rejects.toMatchObject({ code: 'EINVALID' })
})
