// Builds the service from its Dockerfile, runs it with a published port, and tests it over HTTP
// (run as root: `npx jest -c examples/build/jest.config.js`).
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const { Image, Wait, run } = require('minicontainer')

let app
beforeAll(async () => {
  await Image.fromHost({ ref: 'host' })
  // Build, then run: a second run of the suite takes every step from the build cache.
  app = await run({ build: { context: __dirname, tag: 'build-example:test', buildArgs: { GREETING: 'hello from the build' }, network: 'none' } }, { ports: ['8080'], waitFor: Wait.forHttp('/', 8080) })
})
afterAll(async () => {
  await app?.remove({ force: true })
  await (await Image.get('build-example:test')).remove({ force: true })
})

test('the built service answers with the greeting given at build time, as the Dockerfile USER', async () => {
  const res = await fetch(`http://127.0.0.1:${app.port(8080).hostPort}/ping`)
  const body = await res.json()
  expect(body).toMatchObject({ path: '/ping', greeting: 'hello from the build', uid: 65534 })
  expect(body.builtWith).toMatch(/^built with node v\d+/)
})

test('the image has what the Dockerfile says, and not what .dockerignore excludes', async () => {
  const image = await Image.get('build-example:test')
  expect(image.config).toMatchObject({ cmd: ['node', 'server.js'], workdir: '/app', user: 'nobody', exposedPorts: ['8080/tcp'] })
  const { stdout } = await app.exec(['ls', '/app'])
  expect(stdout.split('\n').filter(Boolean).sort()).toEqual(['built-with', 'server.js'])
  expect(fs.existsSync(path.join(__dirname, 'service.test.js'))).toBe(true) // it is in the context, only ignored
})
