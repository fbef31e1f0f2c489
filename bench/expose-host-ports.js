#!/usr/bin/env node
// exposeHostPorts throughput (issue 19): an iperf3 server on the host's 127.0.0.1 only (the app under test),
// reached by an iperf3 client in a container on the default bridge as host.minicontainer.internal, as root
// and rootless, against the same client on the host's loopback, interleaved round by round in one run (run
// as root): `npm run bench expose`, or `node bench/expose-host-ports.js [rounds]`.
//   host loopback   iperf3 -c 127.0.0.1 on the host: the ceiling
//   root            a container of the bench's runtime (its relay listens on the bridge's gateway)
//   rootless        a container of a runtime run by a user made for the run (the tests' makeUnprivilegedUser,
//                   removed at the end): its relay listens on the gateway in the keeper's namespace
// The containers run the host's programs (Image.fromHost), so the client is the same binary everywhere.
// Traffic goes only to loopback and the bench's bridges.
'use strict'
const { execFileSync, spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')
const { row } = require('./stats')

const repo = path.resolve(__dirname, '..')
const dist = path.join(repo, 'dist')
const SECONDS = Number(process.env.BENCH_IPERF_SECONDS ?? 3)
const ROUNDS = Number(process.env.BENCH_EXPOSE_ROUNDS ?? 7)

/** iperf3's argv for one measurement against `host`:`port`. */
const client = (host, port) => ['iperf3', '-J', '-t', String(SECONDS), '-c', host, '-p', String(port)]

/** Gbit/s from iperf3's JSON; throws with iperf3's own error (e.g. "the server is busy"). */
function gbitOf(json) {
  const out = JSON.parse(json)
  if (!out.end?.sum_received) throw new Error(`iperf3: ${out.error}`)
  return out.end.sum_received.bits_per_second / 1e9
}

/**
 * A measurement, retried a few times: under load the server may still be closing the previous test
 * when the next one connects ("the server is busy").
 */
async function measure(sample) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await sample()
    } catch (err) {
      if (attempt === 4) throw err
      await new Promise((r) => setTimeout(r, 500))
    }
  }
}

/** The rootless worker's program: a host image and one container exposing `port`; one measurement per "go" line. */
const rootlessWorker = (port) => `
const { Runtime, Image, run } = require(${JSON.stringify(dist)})
const readline = require('node:readline')
;(async () => {
  const runtime = new Runtime()
  await Image.fromHost({ runtime })
  const c = await run('host', ['sleep', '3600'], { runtime, network: 'bridge', exposeHostPorts: [${port}] })
  console.log('ready')
  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (line !== 'go') continue
    const r = await c.exec(${JSON.stringify(client('host.minicontainer.internal', port))})
    console.log(JSON.stringify(r.stdout.replace(/\\n/g, ' ')))
  }
  await c.remove({ force: true })
  await runtime.close({ removeRoot: true })
})().catch((e) => { console.error(e); process.exit(1) })`

/** Starts the rootless worker as `user`; resolves to a way to ask it for one measurement's JSON. */
async function startRootless(user, port, work) {
  const home = fs.mkdtempSync(path.join(work, 'home-'))
  fs.chownSync(home, user.uid, user.gid)
  const env = ['env', '-i', `HOME=${home}`, `USER=${user.name}`, 'PATH=/usr/local/bin:/usr/bin:/bin']
  // --no-warnings: the user has no /dev/net/tun, so no egress, which this bench does not need
  const proc = spawn('runuser', ['-u', user.name, '--', ...env, process.execPath, '--no-warnings', '-e', rootlessWorker(port)], { cwd: '/', stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = readline.createInterface({ input: proc.stdout })[Symbol.asyncIterator]()
  const next = async () => {
    const { value, done } = await lines.next()
    if (done) throw new Error('the rootless worker ended')
    return value
  }
  if ((await next()) !== 'ready') throw new Error('the rootless worker did not start')
  return {
    ask: async () => JSON.parse((proc.stdin.write('go\n'), await next())),
    end: () => new Promise((r) => (proc.stdin.end(), proc.exitCode !== null ? r() : proc.once('exit', r))),
  }
}

/** The section: `runtime` is the bench's (root); prints Gbit/s medians and their ratios to host loopback. */
async function exposeHostPorts(runtime, flags = {}, rounds = ROUNDS) {
  if (process.geteuid() !== 0) throw new Error('run as root: the benchmark makes its own user')
  for (const tool of ['iperf3', 'nc']) if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`install ${tool} for the exposeHostPorts benchmark`)
  const { run, Image } = require(dist)
  const { pickFreePort } = require(path.join(dist, 'network', 'port-probe'))
  require(path.join(repo, 'test', 'tools', 'ts-register.js'))
  const { makeUnprivilegedUser } = require(path.join(repo, 'test', 'tools', 'unprivileged-user.ts'))
  const port = await pickFreePort('tcp', '127.0.0.1', () => false)
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-bench-expose-'))
  fs.chmodSync(work, 0o755)
  const server = spawn('iperf3', ['-s', '-B', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' })
  let user, rootless, container
  try {
    for (let i = 0; i < 100 && spawnSync('nc', ['-z', '127.0.0.1', String(port)]).status !== 0; i++) await new Promise((r) => setTimeout(r, 50))
    await Image.fromHost({ runtime })
    container = await run('host', ['sleep', '3600'], { runtime, network: 'bridge', exposeHostPorts: [port] })
    user = makeUnprivilegedUser()
    rootless = await startRootless(user, port, work)
    const paths = {
      'host loopback': async () => gbitOf(execFileSync(client('127.0.0.1', port)[0], client('127.0.0.1', port).slice(1), { encoding: 'utf8' })),
      root: async () => gbitOf((await container.exec(client('host.minicontainer.internal', port))).stdout),
      rootless: async () => gbitOf(await rootless.ask()),
    }
    const gbit = Object.fromEntries(Object.keys(paths).map((k) => [k, []]))
    const load0 = os.loadavg()[0]
    for (let round = 0; round < rounds; round++) {
      const names = Object.keys(paths)
      for (const name of round % 2 ? names.reverse() : names) gbit[name].push(await measure(paths[name]))
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
    const host = median(gbit['host loopback'])
    console.log(`\n## exposeHostPorts: iperf3 from a container on the default bridge to the host's 127.0.0.1 (${rounds} interleaved rounds of ${SECONDS} s, load ${load0.toFixed(2)} -> ${os.loadavg()[0].toFixed(2)})`)
    row('', ...Object.keys(paths))
    row('iperf3 Gbit/s (median)', ...Object.values(gbit).map((g) => median(g).toFixed(2)))
    row('/ host loopback', ...Object.values(gbit).map((g) => (median(g) / host).toFixed(2)))
  } finally {
    if (rootless) await rootless.end()
    if (user) user.remove()
    if (container) await container.remove({ force: true })
    server.kill()
    fs.rmSync(work, { recursive: true, force: true })
  }
}

module.exports = exposeHostPorts

if (require.main === module) {
  const { Runtime } = require(dist)
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-bench-root-'))
  const runtime = new Runtime({ root })
  exposeHostPorts(runtime, {}, Number(process.argv[2] ?? ROUNDS))
    .catch((err) => {
      console.error(err)
      process.exitCode = 1
    })
    .finally(async () => {
      await runtime.close()
      fs.rmSync(root, { recursive: true, force: true })
    })
}
