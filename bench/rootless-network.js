#!/usr/bin/env node
// Rootless network work, builds against each other, interleaved so all see the same load (run as root):
//   node bench/rootless-network.js [n] [dist...]      (default: this checkout's dist/)
// Each dist (a built package's dist/, with its native/build/ beside it as in a checkout) gets one worker
// process, run as a user made for the run with a subordinate range, with its own root and state
// directory. Workers take turns doing one sample of each kind:
//   start     run() -> observed exit of /bin/true on the default bridge (rm: true), in a warm runtime
//   network   a cold runtime's first network: new Runtime(), Network.create(), remove(), close()
//             (the keeper, its maps and network namespace, the sockets into it, the egress attempt)
// The user is made by the tests' makeUnprivilegedUser (test/tools/unprivileged-user.ts) and removed at the end.
'use strict'
const { execFileSync, spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')
const { summarize, fmt, row, busyboxRootfs } = require('./stats')

/** A worker's program: import the image, warm up, then one sample of `kind` per "<kind>" line (prints its ms). */
const worker = (dist, rootfs, root) => `
const { Runtime, Image, Network, run } = require(${JSON.stringify(dist)})
const readline = require('node:readline')
process.on('warning', () => {}) // no egress here is expected: said once, not per sample
;(async () => {
  const runtime = new Runtime({ root: ${JSON.stringify(root)} })
  await Image.import(${JSON.stringify(rootfs)}, { runtime, ref: 'rl-bb' })
  const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6
  const samples = {
    async start() {
      const t0 = process.hrtime.bigint()
      const c = await run('rl-bb', ['/bin/true'], { runtime, rm: true })
      await c.wait()
      return ms(t0)
    },
    async network() {
      const t0 = process.hrtime.bigint()
      const cold = new Runtime({ root: ${JSON.stringify(root + '-cold')} })
      const n = await Network.create('bench', { runtime: cold })
      await n.remove()
      await cold.close()
      return ms(t0)
    },
  }
  for (let i = 0; i < 5; i++) for (const s of Object.values(samples)) await s()
  console.log('ready')
  for await (const line of readline.createInterface({ input: process.stdin })) console.log(String(await samples[line]()))
  await runtime.close({ removeRoot: true })
  await new Runtime({ root: ${JSON.stringify(root + '-cold')} }).close({ removeRoot: true })
})().catch((e) => { console.error(e); process.exit(1) })`

/** A worker for `dist`, as `user`, with a home (root, state) of its own. */
function startWorker(dist, i, user, rootfs, work) {
  const home = fs.mkdtempSync(path.join(work, `home${i}-`))
  fs.chownSync(home, Number(execFileSync('id', ['-u', user])), Number(execFileSync('id', ['-g', user])))
  const env = ['env', '-i', `HOME=${home}`, `USER=${user}`, `XDG_RUNTIME_DIR=${home}`, 'PATH=/usr/local/bin:/usr/bin:/bin']
  const proc = spawn('runuser', ['-u', user, '--', ...env, process.execPath, '-e', worker(dist, rootfs, path.join(home, 'root'))], { cwd: '/', stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = readline.createInterface({ input: proc.stdout })[Symbol.asyncIterator]()
  const next = async () => {
    const { value, done } = await lines.next()
    if (done) throw new Error(`the worker of ${dist} ended`)
    return value
  }
  return { name: dist, proc, next, samples: { start: [], network: [] }, ask: async (kind) => Number((proc.stdin.write(`${kind}\n`), await next())) }
}

async function main() {
  const n = Number(process.argv[2] ?? 50)
  const dists = process.argv.length > 3 ? process.argv.slice(3).map((d) => path.resolve(d)) : [path.resolve(__dirname, '..', 'dist')]
  if (process.geteuid() !== 0) throw new Error('run as root: the benchmark makes its own user')
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rlnetbench-'))
  fs.chmodSync(work, 0o755)
  let user
  const workers = []
  try {
    busyboxRootfs(path.join(work, 'rootfs'))
    require(path.join(__dirname, '..', 'test', 'tools', 'ts-register.js'))
    user = require(path.join(__dirname, '..', 'test', 'tools', 'unprivileged-user.ts')).makeUnprivilegedUser()
    dists.forEach((d, i) => workers.push(startWorker(d, i, user.name, path.join(work, 'rootfs'), work)))
    for (const w of workers) if ((await w.next()) !== 'ready') throw new Error(`${w.name} did not start`)
    const load0 = os.loadavg()[0]
    for (let i = 0; i < n; i++) {
      const order = i % 2 ? [...workers].reverse() : workers
      for (const kind of ['start', 'network']) for (const w of order) w.samples[kind].push(await w.ask(kind))
    }
    console.log(`\n## rootless network work (n=${n} each, interleaved, load ${load0.toFixed(2)} -> ${os.loadavg()[0].toFixed(2)})`)
    row('', 'start p50', 'start p95', 'network p50', 'network p95')
    for (const w of workers) {
      const s = summarize(w.samples.start)
      const c = summarize(w.samples.network)
      row(w.name, fmt(s.p50), fmt(s.p95), fmt(c.p50), fmt(c.p95))
    }
  } finally {
    for (const w of workers) {
      w.proc.stdin.end()
      await new Promise((r) => (w.proc.exitCode !== null ? r() : w.proc.once('exit', r)))
    }
    user?.remove()
    fs.rmSync(work, { recursive: true, force: true })
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
