// The shared services of this jest project: how globalSetup starts them and how tests find them.
'use strict'
const { Container, Image } = require('minicontainer')
const { NginxContainer, RedisContainer } = require('minicontainer/modules')

/** Starts (or, with reuse, finds) redis-server and nginx from the host's own programs, through the service modules. */
async function startServices() {
  await Image.fromHost({ ref: 'host' })
  const [redis, nginx] = await Promise.all([
    new RedisContainer({ image: 'host', name: 'jest-example-redis', reuse: true }).start(),
    new NginxContainer({ image: 'host', name: 'jest-example-nginx', reuse: true, pages: { 'index.html': 'hello from nginx\n', health: 'ok\n' } }).start(),
  ])
  return { redis, nginx }
}

/** Removes both services (globalTeardown). */
async function stopServices() {
  for (const name of ['jest-example-redis', 'jest-example-nginx']) {
    const c = await Container.get(name).catch(() => undefined)
    if (c) await c.remove({ force: true })
  }
}

/** Where a test reaches a service from the host: 127.0.0.1 and the published port. */
async function endpoint(name, port) {
  const c = await Container.get(name)
  return { host: '127.0.0.1', port: Number(c.port(port).hostPort) }
}

module.exports = {
  startServices,
  stopServices,
  redis: () => endpoint('jest-example-redis', 6379),
  nginx: () => endpoint('jest-example-nginx', 80),
}
