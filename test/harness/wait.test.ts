/**
 * Wait strategies on the real kernel: host-image redis-server and busybox
 * programs, readiness, timeouts and exits with their logs, and cleanup.
 */
import * as net from 'node:net'
import { Container, MiniContainerError, run, Wait, type Runtime } from '../../lib'
import { useRuntime } from '../helpers'

// Importing the host and busybox images hashes every file: slow on a loaded machine.
jest.setTimeout(180_000)

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { busybox: true })

/** Sends one redis command to a host port and returns the reply line. */
function redisCommand(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(`${command}\r\n`))
    s.setTimeout(2000, () => s.destroy(new Error('redis did not answer')))
    s.once('data', (d) => {
      resolve(d.toString().trim())
      s.end()
    })
    s.once('error', reject)
  })
}

async function gone(id: string): Promise<boolean> {
  return Container.get(id, { runtime }).then(
    () => false,
    (e: MiniContainerError) => e.code === 'ENOCONTAINER',
  )
}

test('forListeningPorts: redis-server answers PING on its published port as soon as run() resolves', async () => {
  const t0 = performance.now()
  await using redis = await run('host', ['redis-server', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {
    runtime, ports: ['6379'], waitFor: Wait.forListeningPorts(), startupTimeout: 10_000,
  })
  const readyMs = performance.now() - t0
  const port = Number(redis.port(6379)!.hostPort)
  expect(await redisCommand(port, 'PING')).toBe('+PONG')
  console.log(`redis-server ready (forListeningPorts) in ${readyMs.toFixed(1)} ms`)
})

test('forListeningPorts with explicit ports, on the container address (no published port)', async () => {
  await using c = await run('bb', ['nc', '-ll', '-p', '7000', '-e', 'cat'], { runtime, waitFor: Wait.forListeningPorts([7000]), startupTimeout: 10_000 })
  const ip = (await c.inspect()).networkSettings.ipAddress
  const echoed = await new Promise<string>((resolve, reject) => {
    const s = net.connect(7000, ip, () => s.write('hi\n'))
    s.once('data', (d) => (resolve(d.toString()), s.destroy()))
    s.once('error', reject)
  })
  expect(echoed).toBe('hi\n')
})

test('forListeningPorts: a program that listens late answers on its published port, at the first try, once run() resolves', async () => {
  // It starts listening only after a while: ready must wait for it, and the published port must then reach it.
  await using c = await run('bb', ['sh', '-c', 'echo starting; sleep 0.3; exec nc -ll -p 7000 -e cat'], { runtime, ports: ['7000'], waitFor: Wait.forListeningPorts(), startupTimeout: 10_000 })
  const port = Number(c.port(7000)!.hostPort)
  const echoed = await new Promise<string>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('late\n'))
    s.once('data', (d) => (resolve(d.toString()), s.destroy()))
    s.once('error', reject)
  })
  expect(echoed).toBe('late\n')
})

test('forListeningPorts without any port is EINVALID', async () => {
  await expect(run('bb', ['sleep', '30'], { runtime, network: 'none', waitFor: Wait.forListeningPorts() })).rejects.toMatchObject({ code: 'EINVALID' })
})

test('forLogMessage: waits for the line on the chosen stream, the given number of times', async () => {
  const script = 'echo ready; sleep 0.2; echo ready >&2; sleep 0.2; echo ready >&2; exec sleep 30'
  const t0 = Date.now()
  await using c = await run('bb', ['sh', '-c', script], { runtime, network: 'none', waitFor: Wait.forLogMessage(/^ready$/, { times: 2, stream: 'stderr' }) })
  expect(Date.now() - t0).toBeGreaterThanOrEqual(380)
  expect((await c.inspect()).state.running).toBe(true)
})

test('forHttp: busybox httpd serving a file placed with `files`', async () => {
  await using web = await run('bb', ['httpd', '-f', '-p', '80', '-h', '/www'], {
    runtime,
    ports: ['80'],
    files: [{ target: '/www/health', content: 'all ok\n' }],
    waitFor: Wait.forHttp('/health', 80, { status: 200, body: /ok/ }),
  })
  const res = await fetch(`http://127.0.0.1:${web.port(80)!.hostPort}/health`)
  expect(await res.text()).toBe('all ok\n')
})

test('forSuccessfulCommand: ready once the command inside exits 0', async () => {
  await using c = await run('bb', ['sh', '-c', 'sleep 0.3; touch /tmp/ready; exec sleep 30'], {
    runtime, network: 'none', waitFor: Wait.forSuccessfulCommand(['test', '-f', '/tmp/ready']),
  })
  expect((await c.exec(['ls', '/tmp/ready'])).exitCode).toBe(0)
})

test('forExit: one-shot jobs, with and without the expected code', async () => {
  await using ok = await run('bb', ['sh', '-c', 'echo migrated'], { runtime, network: 'none', waitFor: Wait.forExit({ exitCode: 0 }) })
  expect((await ok.inspect()).state.exitCode).toBe(0)
  const err = await run('bb', ['sh', '-c', 'echo failing >&2; exit 2'], { runtime, network: 'none', waitFor: Wait.forExit({ exitCode: 0 }) }).catch((e) => e)
  expect(err).toMatchObject({ code: 'EEXITED', exitCode: 2 })
  expect(err.logs).toContain('stderr: failing')
})

test('timeout: ETIMEOUT says what was awaited and carries the last 50 log lines; the container is removed', async () => {
  const before = (await Container.list({ runtime, all: true })).length
  const t0 = Date.now()
  const err = await run('bb', ['sh', '-c', 'i=0; while [ $i -lt 80 ]; do i=$((i+1)); echo line $i; done; exec sleep 30'], {
    runtime, network: 'none', waitFor: Wait.forLogMessage('never printed'), startupTimeout: 400,
  }).catch((e) => e)
  expect(Date.now() - t0).toBeLessThan(3000)
  expect(err).toBeInstanceOf(MiniContainerError)
  expect(err.code).toBe('ETIMEOUT')
  expect(err.message).toMatch(/timed out after \d+ ms waiting for log message never printed/)
  expect(err.logs).toHaveLength(50)
  expect(err.logs[49]).toBe('stdout: line 80')
  expect(err.message).toContain('stdout: line 31')
  expect((await Container.list({ runtime, all: true })).length).toBe(before)
})

test('exit while waiting: EEXITED with the exit code and logs; keepOnFailure keeps the container', async () => {
  const err = await run('bb', ['sh', '-c', 'echo cannot bind >&2; exit 3'], {
    runtime, network: 'none', name: 'keep-me', ports: [], waitFor: Wait.forLogMessage('Ready'), keepOnFailure: true,
  }).catch((e) => e)
  expect(err).toMatchObject({ code: 'EEXITED', exitCode: 3 })
  expect(err.message).toContain('exited with code 3')
  expect(err.logs).toEqual(['stderr: cannot bind'])
  const kept = await Container.get('keep-me', { runtime })
  expect((await kept.inspect()).state.status).toBe('exited')
  await kept.remove()
  expect(await gone('keep-me')).toBe(true)
})

test('forAll and forAny', async () => {
  await using c = await run('bb', ['sh', '-c', 'echo one; sleep 0.1; echo two; exec sleep 30'], {
    runtime, network: 'none', waitFor: Wait.forAll([Wait.forLogMessage('one'), Wait.forLogMessage('two')]),
  })
  const logs = c.waitTarget().lastLogLines(10)
  expect(logs).toEqual(['stdout: one', 'stdout: two'])
  await using d = await run('bb', ['sh', '-c', 'echo up; exec sleep 30'], {
    runtime, network: 'none', waitFor: Wait.forAny([Wait.forLogMessage('never'), Wait.forLogMessage('up')]), startupTimeout: 5000,
  })
  expect((await d.inspect()).state.running).toBe(true)
})

test('c.waitFor after start, with an AbortSignal', async () => {
  await using c = await run('bb', ['sleep', '30'], { runtime, network: 'none' })
  const ac = new AbortController()
  const waiting = c.waitFor(Wait.forLogMessage('nothing'), { signal: ac.signal })
  ac.abort(new Error('test over'))
  await expect(waiting).rejects.toMatchObject({ code: 'EABORTED', cause: new Error('test over') })
  await expect(c.waitFor(Wait.forExit(), { timeout: 200 })).rejects.toMatchObject({ code: 'ETIMEOUT' })
})

test("onLog receives each line with its stream", async () => {
  const lines: string[] = []
  await using c = await run('bb', ['sh', '-c', 'echo out; echo err >&2'], { runtime, network: 'none', onLog: (line: string, stream: string) => lines.push(`${stream}:${line}`) })
  await c.wait()
  for (let i = 0; i < 100 && lines.length < 2; i++) await new Promise((r) => setTimeout(r, 10))
  expect(lines.sort()).toEqual(['stderr:err', 'stdout:out'])
})
