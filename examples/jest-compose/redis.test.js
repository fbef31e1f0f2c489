'use strict'
const net = require('node:net')
const { environment } = require('./environment')

test('redis answers PING from the host', async () => {
  const env = await environment()
  const reply = await new Promise((resolve, reject) => {
    const s = net.connect(env.port('redis', 6379), '127.0.0.1', () => s.write('PING\r\n'))
    s.once('data', (d) => { resolve(d.toString().trim()); s.end() })
    s.once('error', reject)
  })
  expect(reply).toBe('+PONG')
})
