'use strict'
const { environment } = require('./environment')

test('nginx answers on its ephemeral host port', async () => {
  const env = await environment()
  const res = await fetch(`http://127.0.0.1:${env.port('web', 80)}/`)
  expect(await res.text()).toBe('hello from nginx\n')
})

test('nginx reaches redis by its service name', async () => {
  const env = await environment()
  const { stdout } = await env.exec('web', ['redis-cli', '-h', 'redis', 'ping'])
  expect(stdout.trim()).toBe('PONG')
})
