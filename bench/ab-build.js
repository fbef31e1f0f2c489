#!/usr/bin/env node
// A/B of Image.build between two builds of the library, interleaved in one process so both see the same load:
//   node bench/ab-build.js <checkout A> <checkout B> [n]
// The Dockerfile and context of `bench build` (two stages, 20 source files, RUN without network); each
// checkout gets its own runtime root and context. AB_CASE picks what a sample is:
//   changed (default): one source file changed, then the build (the RUN and both COPYs miss the cache);
//   cold: a build with noCache; unchanged: the build again, everything from the cache.
// Prints the p50 of the totals, of each instruction's time (onProgress), and, for builds that stamp their
// steps (lib/util/start-trace.ts), the p50 of each traced step from the one before it.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { summarize, fmt, row, now, busyboxRootfs, cpuMs, disposeAbBuilds } = require('./stats')
const { writeContext } = require('./build')

const which = process.env.AB_CASE ?? 'changed'

async function load(dir, rootfs, work, i) {
  const lib = require(path.resolve(dir, 'dist'))
  let trace
  try {
    trace = require(path.resolve(dir, 'dist/util/start-trace'))
  } catch {
    trace = undefined
  }
  const runtime = new lib.Runtime({ root: fs.mkdtempSync(path.join(os.tmpdir(), 'mc-ab-build-root-')) })
  await lib.Image.import(rootfs, { runtime, ref: 'bb:bench', config: { cmd: ['/bin/sh'] } })
  const ctx = path.join(work, `ctx-${i}`)
  writeContext(ctx)
  return { dir, lib, trace, runtime, ctx, totals: [], cpus: [], instructions: new Map(), traces: [], round: 0 }
}

async function sample(build) {
  if (which === 'changed') fs.writeFileSync(path.join(build.ctx, 'src', 'f0.txt'), `changed in round ${build.round++}\n`)
  const ins = new Map()
  const onProgress = (e) => e.status !== 'running' && ins.set(`${e.stage}:${e.line} ${e.instruction.slice(0, 28)}`, e.ms)
  const t = build.trace?.openTrace()
  const t0 = now()
  const c0 = cpuMs()
  try {
    await build.lib.Image.build(build.ctx, { runtime: build.runtime, network: 'none', noCache: which === 'cold', onProgress })
  } finally {
    build.trace?.closeTrace()
  }
  build.totals.push(now() - t0)
  build.cpus.push(cpuMs() - c0)
  for (const [k, ms] of ins) build.instructions.set(k, [...(build.instructions.get(k) ?? []), ms])
  if (t) build.traces.push(t)
}


/** p50 of each sample's time from `before` to `step`. */
function stepP50(build, before, step) {
  const deltas = build.traces.filter((t) => t.has(step) && t.has(before)).map((t) => Number(t.get(step) - t.get(before)) / 1e6)
  return deltas.length ? summarize(deltas).p50 : undefined
}

async function main() {
  const [a, b, n = '30'] = process.argv.slice(2)
  if (!a || !b) throw new Error('usage: node bench/ab-build.js <checkout A> <checkout B> [n]')
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-ab-build-'))
  const builds = []
  try {
    busyboxRootfs(path.join(work, 'rootfs'))
    for (const dir of [a, b]) builds.push(await load(dir, path.join(work, 'rootfs'), work, builds.length))
    for (let i = 0; i < 3; i++) for (const build of builds) await sample(build)
    for (const build of builds) (build.totals.length = 0), (build.cpus.length = 0), build.instructions.clear(), (build.traces.length = 0)
    const load0 = os.loadavg()[0]
    for (let i = 0; i < Number(n); i++) for (const build of i % 2 ? [...builds].reverse() : builds) await sample(build)
    console.log(`\n## A/B: Image.build, case ${which} (n=${n} each, interleaved, load ${load0.toFixed(2)} -> ${os.loadavg()[0].toFixed(2)})`)
    console.log(`  A = ${a}\n  B = ${b}`)
    const [A, B] = builds.map((x) => summarize(x.totals))
    row('', 'A p50', 'B p50', 'B - A', 'A p95', 'B p95')
    row('total', fmt(A.p50), fmt(B.p50), fmt(B.p50 - A.p50), fmt(A.p95), fmt(B.p95))
    const [cA, cB] = builds.map((x) => summarize(x.cpus))
    row('CPU (ours + reaped children)', fmt(cA.p50), fmt(cB.p50), fmt(cB.p50 - cA.p50), fmt(cA.p95), fmt(cB.p95))
    // Under a load that swings within seconds, each round's pair (run back to back) is compared first.
    const ratios = builds[1].totals.map((b, i) => b / builds[0].totals[i]).sort((x, y) => x - y)
    const q = (f) => ratios[Math.min(ratios.length - 1, Math.floor(f * ratios.length))]
    console.log(`  B / A per round (median of ${ratios.length}): ${q(0.5).toFixed(3)}x (quartiles ${q(0.25).toFixed(3)} - ${q(0.75).toFixed(3)})`)
    for (const [k, msB] of builds[1].instructions) {
      const msA = builds[0].instructions.get(k)
      const [pa, pb] = [msA && summarize(msA).p50, summarize(msB).p50]
      row(`  ${k}`, fmt(pa), fmt(pb), pa === undefined ? 'n/a' : fmt(pb - pa))
    }
    const steps = (build) => [...(build.traces[0]?.keys() ?? [])].sort((x, y) => Number(build.traces[0].get(x) - build.traces[0].get(y)))
    for (const [name, build] of [['A', builds[0]], ['B', builds[1]]]) {
      const s = steps(build)
      if (!s.length) continue
      console.log(`  traced steps of ${name} (p50 from the step before, in the first sample's order)`)
      s.forEach((step, i) => i && row(`    ${s[i - 1]} -> ${step}`, fmt(stepP50(build, s[i - 1], step))))
    }
  } finally {
    await disposeAbBuilds(builds, work)
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
