'use strict'
const services = require('./services')

test('nginx serves its page', async () => {
  const { host, port } = await services.nginx()
  const res = await fetch(`http://${host}:${port}/`)
  expect(res.status).toBe(200)
  expect(await res.text()).toBe('hello from nginx\n')
})

test('nginx health endpoint', async () => {
  const { host, port } = await services.nginx()
  expect(await (await fetch(`http://${host}:${port}/health`)).text()).toBe('ok\n')
})
