#!/usr/bin/env node
// Rootless start against rootful and against rootless podman, interleaved so all see the same load
// (run as root): `npm run bench rootless-start`, or `node bench/rootless-start.js [n]`.
// One worker process per mode, each with its own runtime (or podman store) and the same busybox image,
// takes turns doing one run() -> observed exit of /bin/true (rm: true, network: 'none'):
//   root      as root
//   range     as a user made for the run, with a subordinate range (the keeper's namespace, joined per start)
//   single    as a user made without one (a one-id namespace made by each start's shim)
//   podman    `podman --runtime runc run --rm --network none` as another such user (Debian's podman), one
//             sample every PODMAN_EVERY rounds: it is two orders slower and would otherwise set the load
// Issue 19's targets: range p50 <= 1.1x root's, and podman's p50 >= 10x range's, both from this run.
// The users are made by the tests' makeUnprivilegedUser (test/tools/unprivileged-user.ts: ranges past every
// other) and removed at the end. Needs `npm run build`.
'use strict'
const { execFileSync, spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')
const { summarize, fmt, row, busyboxRootfs } = require('./stats')

const PODMAN_EVERY = 5

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

/** The podman worker's program: import the same image as a tar, warm up, then one sample per "go" line. */
const podmanWorker = (tar) => `
const { execFileSync } = require('node:child_process')
const readline = require('node:readline')
// XDG_RUNTIME_DIR unset: podman keeps its run state in /tmp/podman-run-<uid>, removed at the end.
const podman = (...args) => execFileSync('podman', ['--runtime', 'runc', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, XDG_RUNTIME_DIR: '' } })
podman('import', ${JSON.stringify(tar)}, 'localhost/rl-bb:latest')
const sample = () => {
  const t0 = process.hrtime.bigint()
  podman('run', '--rm', '--network', 'none', 'localhost/rl-bb:latest', '/bin/true')
  return Number(process.hrtime.bigint() - t0) / 1e6
}
for (let i = 0; i < 3; i++) sample()
console.log('ready')
;(async () => {
  for await (const line of readline.createInterface({ input: process.stdin })) if (line === 'go') console.log(String(sample()))
  execFileSync('podman', ['system', 'reset', '--force'], { stdio: 'ignore', env: { ...process.env, XDG_RUNTIME_DIR: '' } })
})()`

/** A worker and a way to ask it for one sample. */
function startWorker(mode, rootfs, work) {
  let proc
  if (mode.user) {
    const home = fs.mkdtempSync(path.join(work, `${mode.name}-home-`))
    fs.chownSync(home, Number(execFileSync('id', ['-u', mode.user])), Number(execFileSync('id', ['-g', mode.user])))
    const env = ['env', '-i', `HOME=${home}`, `USER=${mode.user}`, 'PATH=/usr/local/bin:/usr/bin:/bin']
    const program = mode.podman ? podmanWorker(mode.podman) : worker(rootfs)
    proc = spawn('runuser', ['-u', mode.user, '--', ...env, process.execPath, '-e', program], { cwd: '/', stdio: ['pipe', 'pipe', 'inherit'] })
  } else proc = spawn(process.execPath, ['-e', worker(rootfs, fs.mkdtempSync(path.join(work, 'root-store-')))], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = readline.createInterface({ input: proc.stdout })[Symbol.asyncIterator]()
  const next = async () => {
    const { value, done } = await lines.next()
    if (done) throw new Error(`the ${mode.name} worker ended`)
    return value
  }
  return { ...mode, proc, next, samples: [], ask: async () => Number((proc.stdin.write('go\n'), await next())) }
}

/** `podman` on PATH, or why the podman column is left out (said in the output, not silently). */
function podmanMissing() {
  try {
    execFileSync('podman', ['--version'], { stdio: 'ignore' })
    return ''
  } catch {
    return 'podman is not installed (Debian: apt-get install podman runc): no podman column'
  }
}

/** The rootless start benchmark: `n` interleaved rounds; prints p50/p95 per mode and the issue's two ratios. */
async function rootlessStart(n = 100) {
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
    const noPodman = podmanMissing()
    if (!noPodman) {
      users.push(makeUnprivilegedUser())
      const tar = path.join(work, 'rootfs.tar')
      execFileSync('tar', ['--numeric-owner', '-C', path.join(work, 'rootfs'), '-cf', tar, '.'])
      fs.chmodSync(tar, 0o644)
      modes.push({ name: 'podman', user: users[2].name, podman: tar, every: PODMAN_EVERY })
    }
    for (const m of modes) workers.push(startWorker(m, path.join(work, 'rootfs'), work))
    for (const w of workers) if ((await w.next()) !== 'ready') throw new Error(`${w.name} did not start`)
    const load0 = os.loadavg()[0]
    for (let i = 0; i < n; i++) {
      const order = i % 2 ? [...workers].reverse() : workers
      for (const w of order) if (!w.every || i % w.every === 0) w.samples.push(await w.ask())
    }
    console.log(`\n## rootless start: run() to observed exit of /bin/true, rm: true, network none (n=${n} each, podman 1 in ${PODMAN_EVERY}; interleaved, load ${load0.toFixed(2)} -> ${os.loadavg()[0].toFixed(2)})`)
    const p50 = Object.fromEntries(workers.map((w) => [w.name, summarize(w.samples).p50]))
    row('', 'p50', 'p95', 'p50 / root')
    for (const w of workers) {
      const s = summarize(w.samples)
      row(`${w.name} (n=${s.n})`, fmt(s.p50), fmt(s.p95), (s.p50 / p50.root).toFixed(2))
    }
    row('range / root p50 (target <= 1.1)', (p50.range / p50.root).toFixed(2))
    if (noPodman) console.log(`  ${noPodman}`)
    else row('podman / range p50 (target >= 10)', (p50.podman / p50.range).toFixed(1))
  } finally {
    for (const w of workers) {
      w.proc.stdin.end()
      await new Promise((r) => (w.proc.exitCode !== null ? r() : w.proc.once('exit', r)))
    }
    for (const u of users) {
      u.remove()
      for (const dir of [`/tmp/podman-run-${u.uid}`, `/tmp/containers-user-${u.uid}`]) fs.rmSync(dir, { recursive: true, force: true })
    }
    fs.rmSync(work, { recursive: true, force: true })
  }
}

/** As a section of `npm run bench` (bench/run.js): n from BENCH_ROOTLESS_N, default 100. */
module.exports = () => rootlessStart(Number(process.env.BENCH_ROOTLESS_N ?? 100))

if (require.main === module)
  rootlessStart(Number(process.argv[2] ?? 100)).catch((err) => {
    console.error(err)
    process.exit(1)
  })
