// A user's first suite, from the README: redis and postgres from minicontainer/modules, an app
// container on a user network reaching them by name, fixtures in, results out, logs on failure.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Container, Network, Volume, Wait, run } from 'minicontainer'
import { PostgresContainer, RedisContainer, type StartedPostgres, type StartedService } from 'minicontainer/modules'
import { created } from './ids'

const unique = `${process.pid}-${Date.now().toString(36)}`
let net: Network
let redis: StartedService
let pg: StartedPostgres
let app: Container

/** Runs `fn`; when it throws, prints the container's logs first (what a user looks at on failure). */
async function withLogs<T>(c: Container, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    let logs = ''
    for await (const chunk of c.logs()) logs += chunk
    console.error(`logs of ${c.name}:\n${logs}`)
    throw err
  }
}

/** One inline redis command over TCP; its reply (one reply read at once), lines joined by \n. */
function redisCommand(host: string, port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => socket.write(`${command}\r\n`))
    socket.once('data', (data) => { resolve(data.toString().split('\r\n').slice(0, -1).join('\n')); socket.end() })
    socket.once('error', reject)
  })
}

beforeAll(async () => {
  net = await Network.create(`trial-net-${unique}`)
  created('network', net.name)
  ;[redis, pg] = await Promise.all([
    new RedisContainer({ network: net, aliases: ['cache'] }).start(),
    new PostgresContainer({ database: 'orders', network: net, aliases: ['db'] }).start(),
  ])
  created('container', redis.container.id)
  created('container', pg.container.id)
  app = await run('host', ['sleep', 'infinity'], {
    name: `trial-app-${unique}`, network: net, rm: true, extraHosts: ['host.docker.internal:host-gateway'],
  })
  created('container', app.id)
})

afterAll(async () => {
  await app?.remove({ force: true })
  for (const service of [redis, pg]) await service?.stop()
  await net?.remove()
})

test('the app container reaches postgres and redis by name: fixtures in, results out', async () => {
  const fixtures = mkdtempSync(join(tmpdir(), 'trial-fixtures-'))
  writeFileSync(join(fixtures, 'schema.sql'), "create table orders (id int, item text);\ninsert into orders values (1, 'tea'), (2, 'cake');\n")
  await app.copyTo(join(fixtures, 'schema.sql'), '/tmp/')
  await withLogs(app, async () => {
    const load = await app.exec(['psql', 'postgres://test:test@db:5432/orders', '-v', 'ON_ERROR_STOP=1', '-f', '/tmp/schema.sql'])
    expect(load).toMatchObject({ exitCode: 0 })
    const report = await app.exec(['sh', '-c', "psql postgres://test:test@db:5432/orders -tAc 'select item from orders order by id' > /tmp/report.txt && redis-cli -h cache SET last-report done"])
    expect(report).toMatchObject({ exitCode: 0, stdout: 'OK\n' })
  })
  await app.copyFrom('/tmp/report.txt', join(fixtures, 'report.txt'))
  expect(readFileSync(join(fixtures, 'report.txt'), 'utf8')).toBe('tea\ncake\n')
  expect(await redisCommand(redis.host, redis.port, 'GET last-report')).toBe('$4\ndone')
})

test('c.host and mappedPort(): the published port from the host; an unpublished one is a coded error', async () => {
  expect(redis.container.host).toBe('127.0.0.1')
  expect(redis.container.mappedPort(6379)).toBe(redis.port)
  expect(await redisCommand(redis.container.host, redis.container.mappedPort(6379), 'PING')).toBe('+PONG')
  expect(pg.connectionUrl).toBe(`postgres://test:test@127.0.0.1:${pg.container.mappedPort(5432)}/orders`)
  expect(() => redis.container.mappedPort(1234)).toThrow(expect.objectContaining({ code: 'EINVALID', message: expect.stringContaining('6379/tcp') }))
})

test("extraHosts: host.docker.internal is the host, as in Docker", async () => {
  const { stdout } = await app.exec(['getent', 'hosts', 'host.docker.internal'])
  const address = stdout.split(/\s+/)[0] ?? ''
  expect(address).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
  const server = createServer((socket) => socket.end('hello from the host\n'))
  await new Promise<void>((resolve) => server.listen(0, address, resolve))
  try {
    const port = (server.address() as { port: number }).port
    const reply = await app.exec(['bash', '-c', `exec 3<>/dev/tcp/host.docker.internal/${port}; cat <&3`])
    expect(reply).toMatchObject({ exitCode: 0, stdout: 'hello from the host\n' })
  } finally {
    server.close()
  }
})

test('restart({ timeout }): stops within the timeout, then runs again', async () => {
  const c = await run('host', ['sh', '-c', 'trap "" TERM; echo started; while true; do sleep 0.1; done'], { network: net, waitFor: Wait.forLogMessage('started') })
  created('container', c.id)
  try {
    const begun = Date.now()
    await c.restart({ timeout: 1 })
    expect(Date.now() - begun).toBeGreaterThanOrEqual(900)
    expect(Date.now() - begun).toBeLessThan(10_000)
    expect((await c.inspect()).state.status).toBe('running')
  } finally {
    await c.remove({ force: true })
  }
})

test('rm: true: the logs of a container that exited are still there', async () => {
  const c = await run('host', ['sh', '-c', 'echo goodbye; exit 4'], { rm: true })
  created('container', c.id)
  expect(await c.wait()).toMatchObject({ exitCode: 4 })
  await new Promise((resolve) => setTimeout(resolve, 300))
  let logs = ''
  for await (const chunk of c.logs()) logs += chunk
  expect(logs).toBe('goodbye\n')
  await expect(Container.get(c.id)).rejects.toMatchObject({ code: 'ENOCONTAINER' })
})

test("run(image, opts) without a command runs the image's own", async () => {
  const c = await run('redis:7', { ports: ['6379'], rm: true, waitFor: Wait.forLogMessage(/Ready to accept connections/) })
  created('container', c.id)
  try {
    expect(await redisCommand(c.host, c.mappedPort(6379), 'PING')).toBe('+PONG')
  } finally {
    await c.stop()
  }
})

test('a wait that fails says which container, and keepOnFailure keeps it (no name needed)', async () => {
  const err = await run('host', ['sh', '-c', 'echo cannot start; exit 3'], { keepOnFailure: true, waitFor: Wait.forLogMessage('ready') }).catch((e: unknown) => e)
  expect(err).toMatchObject({ code: 'EEXITED', exitCode: 3, containerId: expect.any(String), containerName: expect.any(String) })
  const { containerId, containerName, message } = err as { containerId: string; containerName: string; message: string }
  created('container', containerId)
  expect(message).toContain(containerName)
  expect(message).toContain('cannot start')
  const kept = await Container.get(containerId)
  expect(kept.name).toBe(containerName)
  await kept.remove({ force: true })
})

test("prune with Docker's filters: stopped containers, unused networks and volumes of a label", async () => {
  const labels = { trial: unique }
  const net = await Network.create(`trial-prune-${unique}`, { labels })
  created('network', net.name)
  const volume = await Volume.create(`trial-prune-${unique}`, { labels })
  created('volume', volume.name)
  const c = await run('host', ['true'], { labels })
  created('container', c.id)
  await c.wait()
  expect(await Container.prune({ label: [`trial=${unique}`] })).toEqual([c.id])
  expect(await Network.prune({ label: [`trial=${unique}`] })).toEqual([net.name])
  expect(await Volume.prune({ label: [`trial=${unique}`] })).toEqual([volume.name])
  await expect(Network.get(net.name)).rejects.toMatchObject({ code: expect.any(String) })
})

test('an image neither here nor pullable: the error says both', async () => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve)) // a registry address nothing answers on
  const err = await run(`127.0.0.1:${port}/nosuch`, { rm: true }).catch((e: unknown) => e)
  expect(err).toMatchObject({ code: 'ENOIMAGE', message: expect.stringContaining(`no local image 127.0.0.1:${port}/nosuch:latest, and pulling`) })
})
