#!/usr/bin/env node
// Where run() -> ready goes for `npm run bench targets`' redis row: redis-server from the host image on
// the default bridge, port 6379 published, Wait.forListeningPorts(); then a PING on the host port.
//   node bench/redis-breakdown.js [n]
// Prints the p50 of each stamped step since run() (start path, shim, wait strategy: 'wait: ...').
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Runtime, Image } = require('../dist')
const { openTrace, closeTrace, stamp } = require('../dist/util/start-trace')
const { redisReady } = require('./harness')
const { table } = require('./start-breakdown')

async function traced(runtime) {
  const trace = openTrace()
  try {
    await redisReady(runtime, () => stamp('bench: run() resolved'))
  } finally {
    closeTrace()
  }
  const t0 = trace.get('node: run called')
  return new Map([...trace].filter(([step]) => !/^wait: probe ([3-9]|\d\d)/.test(step)).map(([step, ns]) => [step, Number(ns - t0) / 1e6]))
}

async function main() {
  const n = Number(process.argv[2] ?? 40)
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-bench-redis-'))
  const runtime = new Runtime({ root })
  try {
    await Image.fromHost({ runtime })
    for (let i = 0; i < 3; i++) await traced(runtime)
    const load = os.loadavg()[0].toFixed(2)
    const traces = []
    for (let i = 0; i < n; i++) traces.push(await traced(runtime))
    console.log(`## redis-server ready on a published port, step by step (n=${n}, load ${load} -> ${os.loadavg()[0].toFixed(2)})`)
    table(traces)
  } finally {
    await runtime.close()
    fs.rmSync(root, { recursive: true, force: true })
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
