#!/usr/bin/env node
// A/B of `npm run bench targets`' redis row between two builds, interleaved in one process so both see
// the same load: run() of redis-server from the host image on the default bridge, port 6379 published,
// Wait.forListeningPorts(), until run() resolves; then a PING on the host port proves it was ready.
//   node bench/ab-redis.js <checkout A> <checkout B> [n]
// Each checkout must be built (`npm run build`, `node native/build.js`); each gets its own runtime root.
// Also prints the CPU this process used per sample (the wait's probes run on its event loop).
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const net = require('node:net')
const { summarize, fmt, row, now, disposeAbBuilds } = require('./stats')
const { redisArgs } = require('./harness')

function ping(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('PING\r\n'))
    s.once('data', (d) => (s.end(), d.toString().startsWith('+PONG') ? resolve() : reject(new Error(d.toString()))))
    s.once('error', reject)
  })
}

async function sample(build) {
  const { run, Wait } = build.lib
  const cpu0 = process.cpuUsage()
  const t0 = now()
  const c = await run('host', redisArgs, { runtime: build.runtime, ports: ['6379'], waitFor: Wait.forListeningPorts(), startupTimeout: 30_000 })
  const ms = now() - t0
  const cpu = process.cpuUsage(cpu0)
  await ping(Number(c.port(6379).hostPort))
  await c.remove({ force: true })
  build.ms.push(ms)
  build.cpu.push((cpu.user + cpu.system) / 1000)
}

async function main() {
  const [a, b, nArg] = process.argv.slice(2)
  if (!a || !b) throw new Error('usage: node bench/ab-redis.js <checkout A> <checkout B> [n]')
  const n = Number(nArg ?? 40)
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-ab-redis-'))
  const builds = []
  try {
    for (const dir of [a, b]) {
      const lib = require(path.resolve(dir, 'dist'))
      const runtime = new lib.Runtime({ root: fs.mkdtempSync(path.join(os.tmpdir(), 'mc-ab-root-')) })
      await lib.Image.fromHost({ runtime })
      builds.push({ dir, lib, runtime, ms: [], cpu: [] })
    }
    for (const build of builds) for (let i = 0; i < 3; i++) await sample(build) // warm-up: bridge, table, spares
    for (const build of builds) (build.ms = []), (build.cpu = [])
    const load0 = os.loadavg()[0].toFixed(2)
    for (let i = 0; i < n; i++) for (const build of i % 2 ? [...builds].reverse() : builds) await sample(build)
    console.log(`## redis ready on a published port, run() -> resolved, A/B interleaved (n=${n} each, load ${load0} -> ${os.loadavg()[0].toFixed(2)})`)
    row('', 'p50', 'p95', 'CPU p50 (this process)')
    for (const [label, build] of [['A', builds[0]], ['B', builds[1]]]) {
      const s = summarize(build.ms)
      row(`${label} ${build.dir}`, fmt(s.p50), fmt(s.p95), fmt(summarize(build.cpu).p50))
    }
    console.log(`B - A p50: ${fmt(summarize(builds[1].ms).p50 - summarize(builds[0].ms).p50)}`)
  } finally {
    await disposeAbBuilds(builds, work)
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
