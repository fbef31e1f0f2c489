// Small helpers shared by the benchmark sections.
'use strict'
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

/** p50/p95/mean of a list of milliseconds. */
function summarize(ms) {
  const s = [...ms].sort((a, b) => a - b)
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))]
  return { n: s.length, p50: at(0.5), p95: at(0.95), mean: s.reduce((a, b) => a + b, 0) / s.length }
}

const fmt = (x, unit = 'ms') => (x === undefined ? 'n/a' : `${x.toFixed(2)} ${unit}`)

/** Prints one row of a table. */
function row(label, ...cols) {
  console.log(`  ${label.padEnd(34)} ${cols.map((c) => String(c).padStart(14)).join(' ')}`)
}

const now = () => Number(process.hrtime.bigint()) / 1e6

/** A minimal busybox root filesystem in `dir` (true, sh, sleep, and the `extra` applets). */
function busyboxRootfs(dir, extra = []) {
  const bb = ['/bin/busybox', '/usr/bin/busybox'].find((p) => fs.existsSync(p))
  if (!bb) throw new Error('install busybox-static for the benchmarks')
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev']) fs.mkdirSync(path.join(dir, d), { recursive: true })
  fs.copyFileSync(bb, path.join(dir, 'bin/busybox'))
  fs.chmodSync(path.join(dir, 'bin/busybox'), 0o755)
  for (const a of ['true', 'sh', 'sleep', ...extra]) fs.symlinkSync('busybox', path.join(dir, 'bin', a))
}

/** Peak RSS of this process (sampled every 5 ms) while `fn` runs. */
async function peakRss(fn) {
  let peak = process.memoryUsage.rss()
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5)
  try {
    await fn()
  } finally {
    clearInterval(timer)
  }
  return Math.max(peak, process.memoryUsage.rss())
}

/**
 * Milliseconds from run() to the observed exit of /bin/true in `ref`, net none (with `rm: true`, to
 * the container being gone, as `docker run --rm` returns); removes the container afterwards, or,
 * given `kept`, adds it there for the caller to remove later (a removal between runs is idle time).
 */
async function startToExit(runtime, ref, opts = {}, kept = undefined) {
  const { run } = require('../dist')
  const t0 = now()
  const c = await run(ref, ['/bin/true'], { runtime, network: 'none', ...opts })
  await c.wait()
  const ms = now() - t0
  if (opts.rm) return ms
  if (kept) kept.push(c)
  else await c.remove()
  return ms
}

/**
 * Wall time of fn until its data is on disk (sync before and after): without
 * it, whichever copy runs second pays for writing back the first one's
 * data, and a copy that only fills the page cache looks free.
 */
async function timedSynced(fn) {
  execFileSync('sync')
  const t0 = now()
  await fn()
  execFileSync('sync')
  return now() - t0
}

/** Whether `cmd` is on the PATH. */
function which(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0
}

/** An OCI bundle for crun/runc running `args`: `tool`'s default spec, no terminal, no cgroup limits. */
function ociBundle(dir, rootfs, tool, args) {
  fs.mkdirSync(dir, { recursive: true })
  execFileSync(tool, ['spec'], { cwd: dir }) // runc's own: crun may be missing where runc is not
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'))
  spec.process.terminal = false
  spec.process.args = args
  spec.root = { path: rootfs, readonly: false }
  delete spec.linux.resources
  spec.mounts = spec.mounts.filter((m) => m.type !== 'cgroup')
  spec.linux.namespaces = spec.linux.namespaces.filter((ns) => ns.type !== 'cgroup')
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec))
}

/** CPU ms of this process (every thread) and of its reaped children so far (/proc/self/stat: 10 ms ticks). */
function cpuMs() {
  const f = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')
  const self = process.cpuUsage()
  return (self.user + self.system) / 1000 + (Number(f[13]) + Number(f[14])) * 10
}

/** An A/B script's end: each build's containers removed, its runtime closed and its root deleted, then the work dir. */
async function disposeAbBuilds(builds, work) {
  for (const build of builds) {
    for (const c of await build.lib.Container.list({ runtime: build.runtime, all: true })) await c.remove({ force: true }).catch(() => {})
    await build.runtime.close()
    fs.rmSync(build.runtime.root, { recursive: true, force: true })
  }
  fs.rmSync(work, { recursive: true, force: true })
}

module.exports = { summarize, fmt, row, now, busyboxRootfs, peakRss, startToExit, timedSynced, which, ociBundle, cpuMs, disposeAbBuilds }
