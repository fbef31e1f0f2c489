'use strict'
const net = require('node:net')
const services = require('./services')

/** One request/reply over the redis protocol's inline commands. */
function command(endpoint, line) {
  return new Promise((resolve, reject) => {
    const s = net.connect(endpoint.port, endpoint.host, () => s.write(`${line}\r\n`))
    s.once('data', (d) => { resolve(d.toString().trim()); s.end() })
    s.once('error', reject)
  })
}

test('redis answers PING', async () => {
  expect(await command(await services.redis(), 'PING')).toBe('+PONG')
})

test('redis keeps what this file sets', async () => {
  const redis = await services.redis()
  expect(await command(redis, `SET from-${process.pid} 42`)).toBe('+OK')
  expect(await command(redis, `GET from-${process.pid}`)).toBe('$2\r\n42')
})
