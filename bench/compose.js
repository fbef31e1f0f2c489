// Compose section: the same compose files under Compose.up and under Debian's docker-compose 1.29.2
// (on the engine bench/docker.js finds), in the same run: three trivial services up (ready) and down,
// and a db -> migrate -> api chain with 200 ms health checks, up until api is healthy, then down -v.
// The busybox rootfs is imported on both sides under one reference; nothing is pulled.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile, spawnSync } = require('node:child_process')
const { Compose, Image } = require('../dist')
const { summarize, fmt, row, now, busyboxRootfs } = require('./stats')
const { dockerEngine } = require('./docker')

const ROUNDS = Number(process.env.BENCH_COMPOSE_ROUNDS ?? 5)
const IMAGE = 'mc-bench-compose:bb'

const trivial = `services:
${['a', 'b', 'c'].map((s) => `  ${s}: { image: ${IMAGE}, command: [sleep, "1000"] }`).join('\n')}
`
const health = (port) => `{ test: ["CMD-SHELL", "wget -q -O- http://127.0.0.1:${port}/"], interval: 200ms, retries: 50 }`
const serve = (port) => `["sh", "-c", "mkdir -p /w && echo ok > /w/index.html && exec httpd -f -p ${port} -h /w"]`
const chain = `services:
  db: { image: ${IMAGE}, command: ${serve(5432)}, healthcheck: ${health(5432)}, volumes: [data:/data] }
  migrate:
    image: ${IMAGE}
    command: ["sh", "-c", "wget -q -O- http://db:5432/ && echo done > /data/m"]
    volumes: [data:/data]
    depends_on: { db: { condition: service_healthy } }
  api:
    image: ${IMAGE}
    command: ${serve(8080)}
    healthcheck: ${health(8080)}
    depends_on: { db: { condition: service_healthy }, migrate: { condition: service_completed_successfully } }
volumes: { data: {} }
`

function dockerCompose(engine, dir, args) {
  const env = { ...process.env, ...(engine.socket ? { DOCKER_HOST: `unix://${engine.socket}` } : {}) }
  return new Promise((resolve, reject) =>
    execFile('docker-compose', ['-f', path.join(dir, 'compose.yml'), ...args], { cwd: dir, env, timeout: 300_000 }, (err, _out, stderr) =>
      err ? reject(new Error(`docker-compose ${args.join(' ')}: ${stderr.trim() || err.message}`)) : resolve()))
}

/** docker-compose up -d returns once dependencies are healthy, not the last service: poll it. */
async function dockerHealthy(engine, name) {
  // Bounded: an api that turns unhealthy or exits fails the bench instead of hanging it.
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    const status = await engine.ok(['inspect', '-f', '{{.State.Health.Status}} {{.State.Status}}', name])
    if (status.startsWith('healthy')) return
    if (status.startsWith('unhealthy') || status.endsWith('exited')) throw new Error(`docker-compose's ${name} is ${status}`)
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`docker-compose's ${name} was not healthy within 60 s`)
}

async function oursOnce(runtime, dir, project) {
  const t0 = now()
  const env = await Compose.up(path.join(dir, 'compose.yml'), { runtime, projectName: project })
  const up = now() - t0
  const t1 = now()
  await env.down({ volumes: true })
  return { up, down: now() - t1 }
}

async function dockerOnce(engine, dir, project, waitFor) {
  const t0 = now()
  await dockerCompose(engine, dir, ['-p', project, 'up', '-d'])
  if (waitFor) await dockerHealthy(engine, `${project}_${waitFor}_1`)
  const up = now() - t0
  const t1 = now()
  await dockerCompose(engine, dir, ['-p', project, 'down', '-v', '-t', '0'])
  return { up, down: now() - t1 }
}

async function measure(once) {
  await once(0) // warm-up: bridges, caches
  const up = []
  const down = []
  for (let i = 1; i <= ROUNDS; i++) {
    const r = await once(i)
    up.push(r.up)
    down.push(r.down)
  }
  return { up: summarize(up), down: summarize(down) }
}

async function importBusybox(runtime, engine, work) {
  const root = path.join(work, 'rootfs')
  fs.mkdirSync(root)
  busyboxRootfs(root, ['httpd', 'wget', 'mkdir', 'echo'])
  await Image.import(root, { runtime, ref: IMAGE, config: { cmd: ['/bin/sh'] } })
  const tarball = path.join(work, 'rootfs.tar')
  spawnSync('tar', ['-C', root, '-cf', tarball, '.'])
  await engine.ok(['import', '--change', 'CMD ["/bin/sh"]', tarball, IMAGE], { timeoutMs: 120_000 })
}

module.exports = async function composeBench(runtime) {
  console.log(`\nCompose: Compose.up vs docker-compose 1.29.2, p50 of ${ROUNDS} (each side in the same run)`)
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status !== 0) return console.log('  skipped: docker-compose is not installed (apt-get install docker-compose)')
  const engine = await dockerEngine()
  if (engine.skipped) return console.log(`  skipped: ${engine.skipped}`)
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-bench-compose-'))
  try {
    await importBusybox(runtime, engine, work)
    const tag = Date.now().toString(36)
    const results = []
    for (const [label, yaml, waitFor] of [['3 services', trivial, undefined], ['chain', chain, 'api']]) {
      const dir = fs.mkdtempSync(path.join(work, 'p-'))
      fs.writeFileSync(path.join(dir, 'compose.yml'), yaml)
      const ours = await measure((i) => oursOnce(runtime, dir, `m${tag}${results.length}r${i}`))
      const theirs = await measure((i) => dockerOnce(engine, dir, `d${tag}${results.length}r${i}`, waitFor))
      results.push([label, ours, theirs])
    }
    row('', 'minicontainer', 'docker-compose', 'ratio')
    for (const [label, ours, theirs] of results) {
      row(`${label}: up${label === 'chain' ? ' (api healthy)' : ''}`, fmt(ours.up.p50), fmt(theirs.up.p50), `${(ours.up.p50 / theirs.up.p50).toFixed(3)}x`)
      row(`${label}: down${label === 'chain' ? ' -v' : ''}`, fmt(ours.down.p50), fmt(theirs.down.p50), `${(ours.down.p50 / theirs.down.p50).toFixed(3)}x`)
    }
    console.log(`  (chain: db -> migrate -> api, 200 ms health checks; ratio = minicontainer / docker-compose, on the ${engine.label})`)
  } finally {
    await engine.stop()
    fs.rmSync(work, { recursive: true, force: true })
  }
}
