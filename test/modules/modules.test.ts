/**
 * minicontainer/modules against real servers: the host's redis-server,
 * nginx and PostgreSQL (Debian's packages, through Image.fromHost: nothing
 * can be pulled here; postgres behind an imitation of the official image's
 * entrypoint), reached by real clients (redis-cli, psql, fetch) through the
 * URL the module gives.
 */
import { execFileSync } from 'node:child_process'
import { Container, Network, run, type Runtime } from '../../lib'
import { NginxContainer, PostgresContainer, RedisContainer } from '../../lib/modules'
import { useRuntime } from '../helpers'
import { serviceStandIn } from '../tools/stand-in-image'

jest.setTimeout(120_000)

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { hostImage: true })

/** redis-cli (Debian's redis-tools), the real client, against a URL. */
function redisCli(url: string, ...args: string[]): string {
  return execFileSync('redis-cli', ['-u', url, '--no-auth-warning', ...args], { encoding: 'utf8' }).trim()
}

test('RedisContainer: ready when start() resolves; its URL works with redis-cli; stop() removes it', async () => {
  const redis = await new RedisContainer({ image: 'host', runtime }).start()
  try {
    expect(redis.connectionUrl).toBe(`redis://127.0.0.1:${redis.port}`)
    expect(redis.getConnectionUrl()).toBe(redis.connectionUrl)
    expect(redisCli(redis.connectionUrl, 'SET', 'k', 'v')).toBe('OK')
    expect(redisCli(redis.connectionUrl, 'GET', 'k')).toBe('v')
  } finally {
    await redis.stop()
  }
  await expect(Container.get(redis.container.id, { runtime })).rejects.toMatchObject({ code: 'ENOCONTAINER' })
})

test('RedisContainer with a password: the URL carries it, and the server refuses without it', async () => {
  const redis = await new RedisContainer({ image: 'host', runtime, password: 's3cret-pw' }).start()
  try {
    expect(redis.connectionUrl).toBe(`redis://default:s3cret-pw@127.0.0.1:${redis.port}`)
    expect(redisCli(redis.connectionUrl, 'PING')).toBe('PONG')
    expect(redisCli(`redis://127.0.0.1:${redis.port}`, 'PING')).toMatch(/NOAUTH/)
  } finally {
    await redis.stop()
  }
})

test("a module on a user network (testcontainers' withNetwork/withNetworkAliases): another container there reaches it by its alias; its URL stays the host's", async () => {
  const net = await Network.create(`mod-net-${process.pid}`, { runtime })
  try {
    const redis = await new RedisContainer({ image: 'host', runtime, network: net, aliases: ['cache'] }).start()
    try {
      expect(redis.connectionUrl).toBe(`redis://127.0.0.1:${redis.port}`)
      expect(redisCli(redis.connectionUrl, 'SET', 'k', 'from-the-host')).toBe('OK')
      const client = await run('host', ['redis-cli', '-h', 'cache', 'GET', 'k'], { runtime, network: net.name, rm: true })
      expect(await client.wait()).toMatchObject({ exitCode: 0 })
      let out = ''
      for await (const chunk of client.logs()) out += chunk
      expect(out).toBe('from-the-host\n')
    } finally {
      await redis.stop()
    }
  } finally {
    await net.remove()
  }
})

test('NginxContainer serves the pages given at its URL', async () => {
  const web = await new NginxContainer({ image: 'host', runtime, pages: { 'index.html': 'hello from the module\n', 'api/ok.json': '{"ok":true}' } }).start()
  try {
    expect(web.connectionUrl).toBe(`http://127.0.0.1:${web.port}/`)
    expect(await (await fetch(web.connectionUrl)).text()).toBe('hello from the module\n')
    expect(await (await fetch(`${web.connectionUrl}api/ok.json`)).json()).toEqual({ ok: true })
    expect((await fetch(`${web.connectionUrl}missing`)).status).toBe(404)
  } finally {
    await web.stop()
  }
})

/**
 * An image shaped like the official postgres image: the host image plus an entrypoint that does
 * what docker-library's does (test/modules/postgres-entrypoint.sh), committed with its config.
 */
async function postgresImage(): Promise<string> {
  const pgBin = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim()
  return serviceStandIn(runtime, 'postgres', { cmd: ['postgres'], stopSignal: 'SIGINT', env: [`PATH=${pgBin}:/usr/sbin:/usr/bin:/sbin:/bin`, 'PGDATA=/var/lib/postgresql/data'] })
}

test("PostgresContainer: the official image's environment, ready for psql at its URL with testcontainers' defaults and with its own; snapshot() and restore()", async () => {
  const image = await postgresImage()
  const pg = await new PostgresContainer({ image, runtime }).start()
  try {
    expect(pg.connectionUrl).toBe(`postgres://test:test@127.0.0.1:${pg.port}/test`)
    expect(execFileSync('psql', [pg.connectionUrl, '-tAc', 'select current_user, current_database()'], { encoding: 'utf8' }).trim()).toBe('test|test')
  } finally {
    await pg.stop()
  }
  const app = await new PostgresContainer({ image, runtime, user: 'app', password: 'p@ss word', database: 'orders' }).start()
  try {
    expect(app.connectionUrl).toBe(`postgres://app:p%40ss%20word@127.0.0.1:${app.port}/orders`)
    expect(execFileSync('psql', [app.connectionUrl, '-qtAc', 'create table t (n int); insert into t values (42); select n from t'], { encoding: 'utf8' }).trim()).toBe('42')
    const psql = (sql: string) => execFileSync('psql', [app.connectionUrl, '-qtAc', sql], { encoding: 'utf8' }).trim()
    await app.snapshot('seeded')
    psql('insert into t values (43)')
    await app.snapshot('seeded') // replaces the older snapshot of that name
    psql('insert into t values (44); create table u (n int)')
    await app.restore('seeded')
    expect(psql('select string_agg(n::text, \',\' order by n) from t')).toBe('42,43')
    expect(psql("select count(*) from pg_tables where tablename = 'u'")).toBe('0')
    await expect(app.restore('no-such-snapshot')).rejects.toMatchObject({ code: 'ESERVICE', message: expect.stringContaining('snapshot no-such-snapshot does not exist') })
    expect(psql('select count(*) from t')).toBe('2') // the database is left as it was
    const wrong = `postgres://app:nope@127.0.0.1:${app.port}/orders`
    expect(() => execFileSync('psql', [wrong, '-tAc', 'select 1'], { stdio: 'pipe' })).toThrow(/password authentication failed/)
  } finally {
    await app.stop()
  }
})
