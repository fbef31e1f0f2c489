// Run inside the Docker engine's network namespace (nsenter --net, by bench/targets.js), with
// DOCKER_HOST set: times `docker run -d` of redis-server on a published loopback port until it
// answers PING. Prints JSON {ms} (or {error}) on stdout.
'use strict'
const net = require('node:net')
const { execFileSync } = require('node:child_process')
const { now } = require('./stats')

const { image, redisArgs } = JSON.parse(process.argv[2])

/** A free loopback port of this namespace. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
    srv.once('error', reject)
  })
}

/** Whether redis on `port` answers PING with +PONG. */
function pong(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('PING\r\n'))
    s.once('data', (d) => (s.destroy(), resolve(d.toString().startsWith('+PONG'))))
    s.once('error', () => resolve(false))
    s.once('close', () => resolve(false))
  })
}

async function main() {
  const port = await freePort()
  const t0 = now()
  const id = execFileSync('docker', ['run', '-d', '--rm', '--pull', 'never', '-p', `127.0.0.1:${port}:6379`, image, ...redisArgs], { encoding: 'utf8' }).trim()
  try {
    for (const deadline = t0 + 30_000; !(await pong(port)); await new Promise((r) => setTimeout(r, 1))) {
      if (now() > deadline) throw new Error('redis in Docker did not answer PING within 30 s')
    }
    console.log(JSON.stringify({ ms: now() - t0 }))
  } finally {
    execFileSync('docker', ['rm', '-f', id], { stdio: 'ignore' })
  }
}

main().catch((err) => console.log(JSON.stringify({ error: err.message.split('\n')[0] })))
