#!/usr/bin/env node
// A/B of the start path between two builds, interleaved in one process so both see the same load:
//   node bench/ab-start.js <checkout A> <checkout B> [n]
// Each checkout is built (`npm run build`, `node native/build.js`); each gets its own runtime root.
// Prints run() -> observed exit of /bin/true (rm: true, net none, every default on) per build, and,
// for builds that stamp their steps (lib/util/start-trace.ts), the p50 of each step per build.
// AB_RM=0: without rm: true (run() to wait() resolved; the container is removed after the sample).
// AB_RM=<a>,<b> (each 0 or 1): rm per build, e.g. `AB_RM=0,1 node bench/ab-start.js X X` is what
// rm: true costs one build (issue 20's <= 1.05x), both variants interleaved in one process.
// AB_NET=bridge (or host): that network instead of 'none'. AB_NET=<a>,<b>: a network per build, e.g.
// `AB_NET=none,bridge node bench/ab-start.js X X` is what a bridge network costs one build (issue 20's <= 1 ms).
// AB_BURST=<k>: k samples in a row per build before switching (default 1): back-to-back starts in one
// runtime, each behind its previous sample's teardown, as `bench targets` times them.
// AB_AT_ONCE=<k>: each sample is k runs at once (run -> wait() of all, wall; no rm, each removed after),
// as `bench start`'s "50 containers started at once"; also prints the CPU a sample took: this process's
// and its reaped children's (the shims and, through them, the containers), which load disturbs less.
// AB_CGROUP2=<cgroup2 mount>: each runtime's cgroups on that cgroup2 hierarchy, with the v2 driver (as
// test/cgroups/v2-live.test.ts does on a hybrid host's /sys/fs/cgroup/unified): the v2 start path.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { summarize, fmt, row, now, busyboxRootfs, cpuMs, disposeAbBuilds } = require('./stats')

/** One build: its library, a runtime of its own, and its trace hook when it has one. */
async function load(dir, rootfs) {
  const lib = require(path.resolve(dir, 'dist'))
  let trace
  // AB_TRACE=0: no trace opened, to measure the stamps' own cost against a build without them.
  if (process.env.AB_TRACE !== '0') try {
    trace = require(path.resolve(dir, 'dist/util/start-trace'))
  } catch {
    trace = undefined // a build from before the breakdown: totals only
  }
  const runtime = new lib.Runtime({ root: fs.mkdtempSync(path.join(os.tmpdir(), 'mc-ab-root-')) })
  if (process.env.AB_CGROUP2) useCgroup2(dir, runtime, process.env.AB_CGROUP2)
  await lib.Image.import(rootfs, { runtime, ref: 'ab-bb' })
  return { dir, lib, trace, runtime, rm: false, network: 'none', totals: [], cpus: [], steps: new Map(), traces: [] }
}

/** rm: true for build `i` (0 = A, 1 = B): AB_RM, one value for both or a value per build. */
function rmFor(i) {
  const values = (process.env.AB_RM ?? '1').split(',')
  return (values[i] ?? values[0]) !== '0'
}
/** The network of build `i` (0 = A, 1 = B): AB_NET, one value for both or a value per build. */
function networkFor(i) {
  const values = (process.env.AB_NET ?? 'none').split(',')
  return values[i] ?? values[0]
}

/** Puts the runtime's cgroups on the cgroup2 hierarchy at `mount`, through the v2 driver of the build in `dir`. */
function useCgroup2(dir, runtime, mount) {
  const { CgroupService } = require(path.resolve(dir, 'dist/cgroups'))
  const controllers = new Set(fs.readFileSync(path.join(mount, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean))
  const scope = `minicontainer-ab-${path.basename(runtime.root)}`
  Object.assign(runtime, { cgroups: new CgroupService(scope, () => ({ name: 'v2', mountPoint: mount, controllers, ownPath: '/' })) })
}

const atOnce = Number(process.env.AB_AT_ONCE ?? 0)


/** AB_AT_ONCE's sample: `atOnce` runs at once, until every wait() resolved. */
async function sampleAtOnce(build) {
  const t0 = now()
  const c0 = cpuMs()
  const cs = await Promise.all(Array.from({ length: atOnce }, () => build.lib.run('ab-bb', ['/bin/true'], { runtime: build.runtime, network: build.network })))
  await Promise.all(cs.map((c) => c.wait()))
  build.totals.push(now() - t0)
  // The shims are reaped as their sockets close, a moment after wait(): their CPU counts then.
  await new Promise((r) => setTimeout(r, 50))
  build.cpus.push(cpuMs() - c0)
  await Promise.all(cs.map((c) => c.remove()))
  // The teardown of these is not the next sample's business.
  await new Promise((r) => setTimeout(r, 300))
}

async function sample(build) {
  if (atOnce) return sampleAtOnce(build)
  // AB_PAUSE=<ms>: a pause before each sample, to see what the previous sample's teardown costs the next start.
  if (process.env.AB_PAUSE) await new Promise((r) => setTimeout(r, Number(process.env.AB_PAUSE)))
  const t = build.trace?.openTrace()
  const t0 = now()
  let c
  try {
    c = await build.lib.run('ab-bb', ['/bin/true'], { runtime: build.runtime, network: build.network, rm: build.rm })
    await c.wait()
  } finally {
    build.trace?.closeTrace()
  }
  build.totals.push(now() - t0)
  if (!build.rm) await c.remove()
  if (!t) return
  const start = t.get('node: run called')
  const trace = new Map([...t].map(([step, ns]) => [step, Number(ns - start) / 1e6]))
  build.traces.push(trace)
  for (const [step, ms] of trace) build.steps.set(step, [...(build.steps.get(step) ?? []), ms])
}

/** p50 of each sample's time from `before` to `step` (paired within a sample: steady under a load that swings). */
function stepP50(build, before, step) {
  const deltas = build.traces.filter((t) => t.has(step) && t.has(before)).map((t) => t.get(step) - t.get(before))
  return deltas.length ? summarize(deltas).p50 : undefined
}

/** The q-quantile of `xs` (nearest rank). */
function quantile(xs, q) {
  const sorted = [...xs].sort((x, y) => x - y)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

const burst = Number(process.env.AB_BURST ?? 1)

async function main() {
  const [a, b, n = '200'] = process.argv.slice(2)
  if (!a || !b) throw new Error('usage: node bench/ab-start.js <checkout A> <checkout B> [n]')
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-ab-'))
  const builds = []
  try {
    busyboxRootfs(path.join(work, 'rootfs'))
    for (const dir of [a, b]) builds.push({ ...(await load(dir, path.join(work, 'rootfs'))), rm: rmFor(builds.length), network: networkFor(builds.length) })
    for (let i = 0; i < (atOnce ? 1 : 10); i++) for (const build of builds) await sample(build)
    for (const build of builds) (build.totals.length = 0), (build.cpus.length = 0), build.steps.clear(), (build.traces.length = 0)
    const load0 = os.loadavg()[0]
    // Alternate which build goes first, so neither always runs right after the other's teardown.
    for (let i = 0; i < Number(n) / burst; i++) for (const build of i % 2 ? [...builds].reverse() : builds) for (let j = 0; j < burst; j++) await sample(build)
    const what = atOnce ? `${atOnce} runs of /bin/true at once, to every exit observed (wall)` : `run() to observed exit of /bin/true, rm: ${builds[0].rm} (A) / ${builds[1].rm} (B)`
    console.log(`\n## A/B: ${what}, network ${builds[0].network} (A) / ${builds[1].network} (B)${process.env.AB_CGROUP2 ? `, cgroup2 at ${process.env.AB_CGROUP2}` : ''} (n=${n} each, interleaved${process.env.AB_BURST ? ` in bursts of ${process.env.AB_BURST}` : ''}, load ${load0.toFixed(2)} -> ${os.loadavg()[0].toFixed(2)})`)
    console.log(`  A = ${a}\n  B = ${b}`)
    const [A, B] = builds.map((x) => summarize(x.totals))
    row('', 'A p50', 'B p50', 'B - A', 'A p95', 'B p95')
    row('total', fmt(A.p50), fmt(B.p50), fmt(B.p50 - A.p50), fmt(A.p95), fmt(B.p95))
    if (burst > 1) {
      // Under a load that swings within seconds, each round's pair (its bursts' p50s, a few ms apart) is compared
      // first: the median of those ratios moves less than the ratio of the two overall p50s.
      const pairs = []
      for (let i = 0; i + burst <= Math.min(builds[0].totals.length, builds[1].totals.length); i += burst)
        pairs.push(summarize(builds[1].totals.slice(i, i + burst)).p50 / summarize(builds[0].totals.slice(i, i + burst)).p50)
      const r = summarize(pairs)
      console.log(`  B / A per round of ${burst} (median of ${pairs.length} rounds): ${r.p50.toFixed(3)}x (quartiles ${quantile(pairs, 0.25).toFixed(3)} - ${quantile(pairs, 0.75).toFixed(3)})`)
    }
    if (atOnce) {
      const [cA, cB] = builds.map((x) => summarize(x.cpus))
      row('CPU (ours + reaped children)', fmt(cA.p50), fmt(cB.p50), fmt(cB.p50 - cA.p50), fmt(cA.p95), fmt(cB.p95))
    }
    if (atOnce) return
    // In B's order of median times; each step also as its own p50 from the step before it.
    const steps = [...builds[1].steps.keys()].filter((s) => builds[0].steps.has(s))
    steps.sort((x, y) => summarize(builds[1].steps.get(x)).p50 - summarize(builds[1].steps.get(y)).p50)
    for (const step of steps) {
      const [sa, sb] = builds.map((x) => summarize(x.steps.get(step)).p50)
      row(`  ${step} (since run())`, fmt(sa), fmt(sb), fmt(sb - sa))
    }
    row('', 'A step p50', 'B step p50', 'B - A')
    steps.forEach((step, i) => {
      if (!i) return
      const [da, db] = builds.map((x) => stepP50(x, steps[i - 1], step))
      row(`  ${steps[i - 1]} -> ${step}`, fmt(da), fmt(db), da === undefined || db === undefined ? 'n/a' : fmt(db - da))
    })
  } finally {
    await disposeAbBuilds(builds, work)
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
