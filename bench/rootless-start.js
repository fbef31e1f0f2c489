#!/usr/bin/env node
// Rootless start against rootful, interleaved so all see the same load (run as root):
//   node bench/rootless-start.js [n]
// One worker process per mode, each with its own runtime and the same busybox image, takes turns
// doing one run() -> observed exit of /bin/true (rm: true, network: 'none'):
//   root      as root
//   range     as a user made for the run, with a subordinate range (the keeper's namespace, joined per start)
//   single    as a user made without one (a one-id namespace made by each start's shim)
// The users are made by the tests' makeUnprivilegedUser (test/tools/unprivileged-user.ts: ranges past every
// other) and removed at the end. Needs `npm run build`.
'use strict'
const { execFileSync, spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')
const { summarize, fmt, row, busyboxRootfs } = require('./stats')

const repo = path.resolve(__dirname, '..')
const dist = path.join(repo, 'dist')

/** A worker's program: import the image, warm up, then one sample per "go" line (prints its ms). */
const worker = (rootfs, root) => `
const { Runtime, Image, run } = require(${JSON.stringify(dist)})
const readline = require('node:readline')
;(async () => {
  const runtime = new Runtime(${root ? `{ root: ${JSON.stringify(root)} }` : ''})
  await Image.import(${JSON.stringify(rootfs)}, { runtime, ref: 'rl-bb' })
  const sample = async () => {
    const t0 = process.hrtime.bigint()
    const c = await run('rl-bb', ['/bin/true'], { runtime, network: 'none', rm: true })
    await c.wait()
    return Number(process.hrtime.bigint() - t0) / 1e6
  }
  for (let i = 0; i < 10; i++) await sample()
  console.log('ready')
  for await (const line of readline.createInterface({ input: process.stdin })) if (line === 'go') console.log(String(await sample()))
  await runtime.close({ removeRoot: true })
})().catch((e) => { console.error(e); process.exit(1) })`

/** A worker and a way to ask it for one sample. */
function startWorker(mode, rootfs, work) {
  let proc
  if (mode.user) {
    const home = fs.mkdtempSync(path.join(work, `${mode.name}-home-`))
    fs.chownSync(home, Number(execFileSync('id', ['-u', mode.user])), Number(execFileSync('id', ['-g', mode.user])))
    const env = ['env', '-i', `HOME=${home}`, `USER=${mode.user}`, 'PATH=/usr/local/bin:/usr/bin:/bin']
    proc = spawn('runuser', ['-u', mode.user, '--', ...env, process.execPath, '-e', worker(rootfs)], { cwd: '/', stdio: ['pipe', 'pipe', 'inherit'] })
  } else proc = spawn(process.execPath, ['-e', worker(rootfs, fs.mkdtempSync(path.join(work, 'root-store-')))], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = readline.createInterface({ input: proc.stdout })[Symbol.asyncIterator]()
  const next = async () => {
    const { value, done } = await lines.next()
    if (done) throw new Error(`the ${mode.name} worker ended`)
    return value
  }
  return { ...mode, proc, next, samples: [], ask: async () => Number((proc.stdin.write('go\n'), await next())) }
}

async function main() {
  const n = Number(process.argv[2] ?? 100)
  if (process.geteuid() !== 0) throw new Error('run as root: the benchmark makes its own users')
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rlbench-'))
  fs.chmodSync(work, 0o755)
  const users = []
  const workers = []
  try {
    busyboxRootfs(path.join(work, 'rootfs'))
    require(path.join(repo, 'test', 'tools', 'ts-register.js'))
    const { makeUnprivilegedUser } = require(path.join(repo, 'test', 'tools', 'unprivileged-user.ts'))
    users.push(makeUnprivilegedUser(), makeUnprivilegedUser({ subids: false }))
    const modes = [{ name: 'root' }, { name: 'range', user: users[0].name }, { name: 'single', user: users[1].name }]
    for (const m of modes) workers.push(startWorker(m, path.join(work, 'rootfs'), work))
    for (const w of workers) if ((await w.next()) !== 'ready') throw new Error(`${w.name} did not start`)
    const load0 = os.loadavg()[0]
    for (let i = 0; i < n; i++) {
      const order = i % 2 ? [...workers].reverse() : workers
      for (const w of order) w.samples.push(await w.ask())
    }
    console.log(`\n## rootless start: run() to observed exit of /bin/true, rm: true, network none (n=${n} each, interleaved, load ${load0.toFixed(2)} -> ${os.loadavg()[0].toFixed(2)})`)
    const root = summarize(workers[0].samples)
    row('', 'p50', 'p95', 'p50 / root')
    for (const w of workers) {
      const s = summarize(w.samples)
      row(w.name, fmt(s.p50), fmt(s.p95), (s.p50 / root.p50).toFixed(2))
    }
  } finally {
    for (const w of workers) {
      w.proc.stdin.end()
      await new Promise((r) => (w.proc.exitCode !== null ? r() : w.proc.once('exit', r)))
    }
    for (const u of users) u.remove()
    fs.rmSync(work, { recursive: true, force: true })
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
