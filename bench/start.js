// Container start latency (run() to observed exit of /bin/true), against crun, runc, bwrap and
// docker on the same busybox rootfs; 50 concurrent starts; host memory per idle container.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawnSync } = require('node:child_process')
const { run, Image, Container } = require('../dist')
const { summarize, fmt, row, now, busyboxRootfs, startToExit, which, ociBundle } = require('./stats')
const { breakdown } = require('./start-breakdown')

const N = Number(process.env.BENCH_N ?? 100)

const ROUNDS = 5

/** Runs `argv` n times via spawn-loop.js; returns the samples, or {error}. */
function loop(argv, n, { privateCgroupfs = false } = {}) {
  const node = process.execPath
  const script = path.join(__dirname, 'spawn-loop.js')
  const cmd = privateCgroupfs
    ? // crun 1.8 refuses this host's hybrid cgroup layout; give it a private empty /sys/fs/cgroup
      // (cgroups are disabled for every runtime measured here, minicontainer included).
      ['unshare', '-m', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs none /sys/fs/cgroup && exec "$0" "$@"`, node, script, String(n), ...argv]
    : [node, script, String(n), ...argv]
  const out = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8' })
  return JSON.parse(out.stdout.trim().split('\n').pop() || '{"error":"no output"}')
}

/**
 * n samples of run() to exit (see stats.startToExit), back to back, or `idleMs` apart (untimed): the
 * time a test suite or a sandbox's caller leaves between runs, in which the runtime pre-starts the
 * next container of the shape (RuntimeOptions.prestart).
 */
async function ours(runtime, ref, n, opts = {}, idleMs = 0) {
  const ms = []
  // Without rm, the containers are removed after the round, not between runs: a removal between them
  // would be idle time (untimed) in which the next one is pre-started, which rm: true's loop never gets.
  const kept = []
  for (let i = 0; i < n; i++) {
    if (idleMs) await new Promise((resolve) => setTimeout(resolve, idleMs))
    ms.push(await startToExit(runtime, ref, opts, kept))
  }
  for (const c of kept) await c.remove()
  return ms
}

/** The idle time between runs of the 'apart' rows: a few times a pre-start's setup, far less than a test's own work. */
const IDLE_MS = 20

/**
 * Interleaves rounds of every runtime so that all of them see the same
 * background load (a shared VM's load swings within seconds).
 */
async function compare(runtime, ref, contenders) {
  for (let i = 0; i < 10; i++) await (await run(ref, ['/bin/true'], { runtime, rm: true, network: 'none' })).wait()
  const samples = new Map([['minicontainer', []], ['minicontainer rm: true', []], [apartNoRmLabel, []], [apartLabel, []], ...contenders.map((c) => [c.label, []])])
  const errors = new Map()
  for (let round = 0; round < ROUNDS; round++) {
    samples.get('minicontainer').push(...(await ours(runtime, ref, Math.ceil(N / ROUNDS))))
    samples.get('minicontainer rm: true').push(...(await ours(runtime, ref, Math.ceil(N / ROUNDS), { rm: true })))
    samples.get(apartNoRmLabel).push(...(await ours(runtime, ref, Math.ceil(N / ROUNDS), {}, IDLE_MS)))
    samples.get(apartLabel).push(...(await ours(runtime, ref, Math.ceil(N / ROUNDS), { rm: true }, IDLE_MS)))
    for (const c of contenders) {
      if (c.error || errors.has(c.label)) continue
      const r = loop(c.argv, Math.ceil(N / ROUNDS), c.opts)
      if (r.error) errors.set(c.label, r.error)
      else samples.get(c.label).push(...r.ms)
    }
  }
  return { samples, errors }
}

const apartLabel = `minicontainer rm: true, ${IDLE_MS} ms apart`
const apartNoRmLabel = `minicontainer, ${IDLE_MS} ms apart`

async function concurrent(runtime, ref, count) {
  const t0 = now()
  const cs = await Promise.all(Array.from({ length: count }, () => run(ref, ['/bin/true'], { runtime, network: 'none' })))
  await Promise.all(cs.map((c) => c.wait()))
  const wall = now() - t0
  await Promise.all(cs.map((c) => c.remove()))
  return wall
}

function memAvailableKiB() {
  return Number(/MemAvailable:\s+(\d+)/.exec(fs.readFileSync('/proc/meminfo', 'utf8'))[1])
}

function pssKiB(pid) {
  try {
    return Number(/Pss:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))[1])
  } catch {
    return 0
  }
}

async function idleMemory(runtime, ref, count) {
  const before = memAvailableKiB()
  const cs = await Promise.all(Array.from({ length: count }, () => run(ref, ['sleep', '1000'], { runtime, network: 'none' })))
  await new Promise((r) => setTimeout(r, 500))
  const after = memAvailableKiB()
  const shimPids = execFileSync('pgrep', ['-f', 'mc-shim run'], { encoding: 'utf8' }).trim().split('\n').map(Number)
  const shimPss = shimPids.reduce((a, p) => a + pssKiB(p), 0) / shimPids.length
  await Promise.all(cs.map((c) => c.remove({ force: true })))
  return { perContainerMiB: (before - after) / count / 1024, shimPssKiB: shimPss }
}

module.exports = async function startBench(runtime, { breakdown: withBreakdown = false } = {}) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-bench-'))
  try {
    const rootfs = path.join(work, 'rootfs')
    busyboxRootfs(rootfs)
    await Image.import(rootfs, { runtime, ref: 'bench-bb' })

    if (withBreakdown) await breakdown(runtime, 'bench-bb', N)
    console.log(`\n## Container start: run() to observed exit of /bin/true (busybox rootfs, all namespaces, net none; n=${N}, ${ROUNDS} interleaved rounds)`)
    const contenders = []
    if (which('crun')) {
      ociBundle(path.join(work, 'crun'), rootfs, 'crun', ['/bin/true'])
      contenders.push({ label: 'crun run', argv: ['crun', '--cgroup-manager=disabled', 'run', '--bundle', path.join(work, 'crun'), 'mcb-crun-{i}'], opts: { privateCgroupfs: true } })
    } else contenders.push({ label: 'crun run', error: 'not installed (apt-get install crun)' })
    if (which('runc')) {
      ociBundle(path.join(work, 'runc'), rootfs, 'runc', ['/bin/true'])
      contenders.push({ label: 'runc run', argv: ['runc', 'run', '--bundle', path.join(work, 'runc'), 'mcb-runc-{i}'] })
    } else contenders.push({ label: 'runc run', error: 'not installed (apt-get install runc)' })
    if (which('bwrap')) contenders.push({ label: 'bwrap --unshare-all', argv: ['bwrap', '--unshare-all', '--bind', rootfs, '/', '--proc', '/proc', '--dev', '/dev', '/bin/true'] })
    else contenders.push({ label: 'bwrap', error: 'not installed (apt-get install bubblewrap)' })
    if (which('docker') && spawnSync('docker', ['info']).status === 0) {
      // The same busybox rootfs, imported: nothing is pulled (--pull never), ever.
      execFileSync('sh', ['-c', `tar -C "${rootfs}" -c . | docker import - mc-bench-bb:latest`], { stdio: 'ignore' })
      contenders.push({ label: 'docker run --rm', argv: ['docker', 'run', '--rm', '--pull', 'never', '--network', 'none', 'mc-bench-bb:latest', '/bin/true'] })
    }
    else contenders.push({ label: 'docker run --rm', error: 'no Docker engine running: skipped' })
    const { samples, errors } = await compare(runtime, 'bench-bb', contenders)
    const mine = summarize(samples.get('minicontainer'))
    row('runtime', 'p50', 'p95', 'ours / theirs')
    row('minicontainer', fmt(mine.p50), fmt(mine.p95), '1.00x')
    const withRm = summarize(samples.get('minicontainer rm: true'))
    row('minicontainer rm: true', fmt(withRm.p50), fmt(withRm.p95), `${(withRm.p50 / mine.p50).toFixed(2)}x of no rm`)
    const apartNoRm = summarize(samples.get(apartNoRmLabel))
    row(apartNoRmLabel, fmt(apartNoRm.p50), fmt(apartNoRm.p95), 'pre-started')
    const apart = summarize(samples.get(apartLabel))
    // The peers' ratios to this row are printed after theirs (each peer's own run does nothing between runs).
    row(apartLabel, fmt(apart.p50), fmt(apart.p95), `${(apart.p50 / apartNoRm.p50).toFixed(2)}x of no rm`)
    for (const c of contenders) {
      const error = c.error ?? errors.get(c.label)
      if (error) {
        row(c.label, error)
        continue
      }
      const r = summarize(samples.get(c.label))
      row(c.label, fmt(r.p50), fmt(r.p95), `${(mine.p50 / r.p50).toFixed(2)}x (${apartLabel}: ${(apart.p50 / r.p50).toFixed(2)}x)`)
    }

    console.log('\n## Scale')
    row('50 containers started at once (wall)', fmt(await concurrent(runtime, 'bench-bb', 50)))
    const mem = await idleMemory(runtime, 'bench-bb', 50)
    row('host memory per idle container', fmt(mem.perContainerMiB, 'MiB'))
    row('  of which the shim process (PSS)', fmt(mem.shimPssKiB, 'KiB'))
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
    spawnSync('docker', ['rmi', '-f', 'mc-bench-bb:latest'], { stdio: 'ignore' })
  }
}
