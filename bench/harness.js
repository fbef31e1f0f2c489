// Test-harness section: time from run() to ready for redis-server (Wait.forListeningPorts) and nginx
// (Wait.forHttp), and a jest run of N test files that each start their own redis, with 1 and 4 workers.
// The testcontainers-on-Docker row runs when the private Docker engine helper (test/tools/docker-engine.ts)
// and testcontainers are available; otherwise it is skipped and the reason printed.
// Traffic goes only to loopback and to our containers.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const net = require('node:net')
const { spawnSync } = require('node:child_process')
const { run, Image, Wait } = require('../dist')
const { summarize, fmt, row, now } = require('./stats')
const peer = require('./testcontainers-peer')

const ROUNDS = Number(process.env.BENCH_HARNESS_ROUNDS ?? 10)
const JEST_FILES = Number(process.env.BENCH_JEST_FILES ?? 8)

const redisArgs = ['redis-server', '--save', '', '--appendonly', 'no', '--protected-mode', 'no']
const nginxConf = `worker_processes 1; error_log stderr; pid /tmp/nginx.pid; events {}
http { access_log off; client_body_temp_path /tmp/b; proxy_temp_path /tmp/p; fastcgi_temp_path /tmp/f; uwsgi_temp_path /tmp/u; scgi_temp_path /tmp/s;
  server { listen 80; location / { return 200 "ok\\n"; } } }`
const nginxArgs = ['nginx', '-e', 'stderr', '-c', '/etc/bench-nginx.conf', '-g', 'daemon off;']

/** One redis PING on a host port: proves the readiness was real. */
function ping(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('PING\r\n'))
    s.once('data', (d) => (s.end(), d.toString().startsWith('+PONG') ? resolve() : reject(new Error(d.toString()))))
    s.once('error', reject)
  })
}

/** run() to ready of redis on a published port; `onReady` is called when run() resolves (a trace's stamp). */
async function redisReady(runtime, onReady) {
  const t0 = now()
  const c = await run('host', redisArgs, { runtime, ports: ['6379'], waitFor: Wait.forListeningPorts(), startupTimeout: 30_000 })
  const ms = now() - t0
  onReady?.()
  await ping(Number(c.port(6379).hostPort))
  await c.remove({ force: true })
  return ms
}

async function nginxReady(runtime) {
  const t0 = now()
  const c = await run('host', nginxArgs, {
    runtime, ports: ['80'], files: [{ target: '/etc/bench-nginx.conf', content: nginxConf }],
    waitFor: Wait.forHttp('/', 80, { body: 'ok' }), startupTimeout: 30_000,
  })
  const ms = now() - t0
  await c.remove({ force: true })
  return ms
}

async function samples(fn, runtime) {
  await fn(runtime) // warm-up: the bridge and its table are made once per runtime
  const ms = []
  for (let i = 0; i < ROUNDS; i++) ms.push(await fn(runtime))
  return summarize(ms)
}

/** A throwaway jest project: N files, each starting its own redis and pinging it. */
function jestProject(dir) {
  const dist = path.resolve(__dirname, '..', 'dist')
  fs.writeFileSync(path.join(dir, 'jest.config.js'), `module.exports = { rootDir: __dirname, testMatch: ['<rootDir>/*.test.js'], testEnvironment: 'node', testTimeout: 60000 }\n`)
  const body = `'use strict'
const net = require('node:net')
const { run, Wait } = require(${JSON.stringify(dist)})
test('own redis answers', async () => {
  const c = await run('host', ${JSON.stringify(redisArgs)}, { ports: ['6379'], waitFor: Wait.forListeningPorts() })
  try {
    const reply = await new Promise((resolve, reject) => {
      const s = net.connect(Number(c.port(6379).hostPort), '127.0.0.1', () => s.write('PING\\r\\n'))
      s.once('data', (d) => (s.end(), resolve(d.toString().trim())))
      s.once('error', reject)
    })
    expect(reply).toBe('+PONG')
  } finally {
    await c.remove({ force: true })
  }
})
`
  for (let i = 0; i < JEST_FILES; i++) fs.writeFileSync(path.join(dir, `redis-${i}.test.js`), body)
}

function jestRun(dir, root, workers) {
  const jest = path.resolve(__dirname, '..', 'node_modules', 'jest', 'bin', 'jest.js')
  const t0 = now()
  const r = spawnSync(process.execPath, [jest, '-c', path.join(dir, 'jest.config.js'), `--maxWorkers=${workers}`], { encoding: 'utf8', env: { ...process.env, MINICONTAINER_ROOT: root } })
  const ms = now() - t0
  // A failed run is reported with its first failure, not hidden: the figure would not mean anything.
  const failure = r.status === 0 ? undefined : (/●[^\n]*\n\s*\n\s*([^\n]+)/.exec(r.stderr)?.[1] ?? `exit ${r.status}`)
  return { ms, failure }
}

async function harnessBench(runtime) {
  console.log(`\nTest harness: run() to ready, p50 of ${ROUNDS} (host image, bridge, published port)`)
  await Image.fromHost({ runtime })
  const redis = await samples(redisReady, runtime)
  const nginx = await samples(nginxReady, runtime)
  const docker = await peer.measure({ rounds: ROUNDS, redisArgs, nginxConf, nginxArgs })
  row('', 'minicontainer', 'testcontainers', 'ratio')
  const ratio = (a, b) => (b ? `${(b / a).toFixed(1)}x` : '')
  row('redis-server (forListeningPorts)', fmt(redis.p50), docker.redis ? fmt(docker.redis.p50) : 'skipped', ratio(redis.p50, docker.redis?.p50))
  row('  p95', fmt(redis.p95), docker.redis ? fmt(docker.redis.p95) : '', '')
  row('nginx (forHttp)', fmt(nginx.p50), docker.nginx ? fmt(docker.nginx.p50) : 'skipped', ratio(nginx.p50, docker.nginx?.p50))
  row('  p95', fmt(nginx.p95), docker.nginx ? fmt(docker.nginx.p95) : '', '')
  if (docker.skipped) console.log(`  testcontainers on Docker skipped: ${docker.skipped}`)

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-bench-jest-'))
  try {
    jestProject(dir)
    console.log(`\njest: ${JEST_FILES} test files, each starting its own redis (wall time of the jest run)`)
    for (const workers of [1, 4]) {
      const { ms, failure } = jestRun(dir, runtime.root, workers)
      row(`${workers} worker${workers > 1 ? 's' : ''}`, fmt(ms), failure ? `FAILED: ${failure}` : '')
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

module.exports = Object.assign(harnessBench, { redisReady, redisArgs })
