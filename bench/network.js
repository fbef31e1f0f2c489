// Network benchmark section (meant to live at bench/network.js and be listed in bench/run.js's
// `sections`): iperf3 throughput container -> container over the bridge, host -> container through a
// published port on 127.0.0.1, and host loopback as the ceiling, all in one run; and the time a
// bridged container takes to start versus `network: 'none'`.
// Traffic goes only to loopback, our bridge and our containers.
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync, spawn, spawnSync } = require('node:child_process')

const dist = [path.resolve(__dirname, '..', 'dist'), path.resolve(__dirname, '..', '..', 'dist')].find((d) => fs.existsSync(path.join(d, 'index.js')))
const { run, Image, Runtime } = require(dist)
const { pickFreePort } = require(path.join(dist, 'network', 'port-probe'))
const { summarize, fmt, row, now } = require(path.join(__dirname, 'stats'))

const SECONDS = Number(process.env.BENCH_IPERF_SECONDS ?? 5)
const N = Number(process.env.BENCH_N ?? 50)

/** Runs an iperf3 client (optionally inside a container's network namespace); returns Gbit/s. */
function iperf(args, pid) {
  const argv = [...(pid ? ['nsenter', `--net=/proc/${pid}/ns/net`, '--'] : []), 'iperf3', '-J', '-t', String(SECONDS), ...args]
  const out = execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: (SECONDS + 20) * 1000 })
  return JSON.parse(out).end.sum_received.bits_per_second / 1e9
}

async function waitPort(port) {
  for (let i = 0; i < 50; i++) {
    if (spawnSync('nc', ['-z', '-w', '1', '127.0.0.1', String(port)]).status === 0) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`)
}

async function throughput(runtime) {
  const hp = await pickFreePort('tcp', '', () => false)
  // Each iperf3 server answers one test (-1) so every measurement gets a fresh server.
  const server = await run('host', ['sh', '-c', 'while :; do iperf3 -s -1 -p 5201 >/dev/null 2>&1; done'], { runtime, network: 'bridge', ports: [`${hp}:5201`] })
  const client = await run('host', ['sleep', '600'], { runtime, network: 'bridge' })
  try {
    await waitPort(hp)
    const serverIp = (await server.exec(['sh', '-c', "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1"])).stdout.trim()
    const c2c = iperf(['-c', serverIp, '-p', '5201'], (await client.inspect()).state.pid)
    await waitPort(hp)
    const published = iperf(['-c', '127.0.0.1', '-p', String(hp)])
    const lo = await loopbackCeiling()
    row('throughput (iperf3, Gbit/s)', 'c2c bridge', 'published 127.0.0.1', 'host loopback')
    row('', c2c.toFixed(2), published.toFixed(2), lo.toFixed(2))
    row('published / c2c (target >= 0.95)', (published / c2c).toFixed(2))
  } finally {
    await server.remove({ force: true })
    await client.remove({ force: true })
  }
}

async function loopbackCeiling() {
  const port = await pickFreePort('tcp', '127.0.0.1', () => false)
  const srv = spawn('iperf3', ['-s', '-B', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' })
  try {
    await waitPort(port)
    return iperf(['-c', '127.0.0.1', '-p', String(port)])
  } finally {
    srv.kill()
  }
}

async function startTime(runtime, network) {
  const ms = []
  for (let i = 0; i < N; i++) {
    const t = now()
    const c = await run('host', ['true'], { runtime, network })
    ms.push(now() - t)
    await c.wait()
    await c.remove()
  }
  return summarize(ms)
}

module.exports = async function network() {
  console.log('\n## Network: bridge setup cost and throughput (iperf3)')
  if (spawnSync('sh', ['-c', 'command -v iperf3']).status !== 0) throw new Error('install iperf3 for the network benchmark')
  // A runtime of its own, for its own address pool; closed (bridge, rules, table gone) at the end.
  const runtime = new Runtime({ root: fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'mc-bench-net-')), subnetPool: ['10.213.250.0/24'] })
  try {
    await Image.fromHost({ runtime }).catch(() => undefined)
    await startTime(runtime, 'bridge') // warm-up: creates the default bridge
    const none = await startTime(runtime, 'none')
    const bridge = await startTime(runtime, 'bridge')
    row('start to running (p50)', 'none', 'bridge', 'bridge - none')
    row('', fmt(none.p50), fmt(bridge.p50), fmt(bridge.p50 - none.p50))
    await throughput(runtime)
  } finally {
    await runtime.close()
    fs.rmSync(runtime.root, { recursive: true, force: true })
  }
}
