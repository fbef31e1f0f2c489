/**
 * minicontainer/modules against real servers: the host's redis-server and
 * nginx (Debian's packages, through Image.fromHost: nothing can be pulled
 * here), reached by real clients (redis-cli, fetch) through the URL the
 * module gives.
 */
import { execFileSync } from 'node:child_process'
import { Container, type Runtime } from '../../lib'
import { NginxContainer, RedisContainer } from '../../lib/modules'
import { useRuntime } from '../helpers'

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
