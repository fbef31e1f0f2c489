#!/usr/bin/env node
// A/B of 50 containers started at once (as `bench start`'s Scale row), interleaved round by round:
//   node bench/ab-burst.js <checkout A> <checkout B> [rounds] [count]
// Each round runs one burst per build (order alternating), each in a runtime of its own; prints per build
// the wall time's p50 and min, and the CPU a burst took (this process's, and its reaped children's: the
// shims and, through them, the containers), which a loaded machine disturbs less than the wall time.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { summarize, fmt, row, now, busyboxRootfs } = require('./stats')

async function load(dir, rootfs) {
  const lib = require(path.resolve(dir, 'dist'))
  const runtime = new lib.Runtime({ root: fs.mkdtempSync(path.join(os.tmpdir(), 'mc-abb-root-')) })
  await lib.Image.import(rootfs, { runtime, ref: 'ab-bb' })
  return { dir, lib, runtime, walls: [], cpus: [] }
}

/** CPU ms of this process (every thread) and of its reaped children so far (/proc/self/stat: 10 ms ticks). */
function cpuMs() {
  const f = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')
  const children = (Number(f[13]) + Number(f[14])) * (1000 / 100)
  const self = process.cpuUsage()
  return (self.user + self.system) / 1000 + children
}

async function burst(build, count) {
  const t0 = now()
  const c0 = cpuMs()
  const cs = await Promise.all(Array.from({ length: count }, () => build.lib.run('ab-bb', ['/bin/true'], { runtime: build.runtime, network: 'none' })))
  await Promise.all(cs.map((c) => c.wait()))
  build.walls.push(now() - t0)
  // The shims are reaped once their sockets close, a moment after wait(): their CPU counts then.
  await new Promise((r) => setTimeout(r, 50))
  build.cpus.push(cpuMs() - c0)
  await Promise.all(cs.map((c) => c.remove()))
  // The previous burst's teardown (namespaces, mounts) is not the next one's business.
  await new Promise((r) => setTimeout(r, 300))
}

async function main() {
  const [a, b, rounds = '10', count = '50'] = process.argv.slice(2)
  if (!a || !b) throw new Error('usage: node bench/ab-burst.js <checkout A> <checkout B> [rounds] [count]')
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-abb-'))
  const builds = []
  try {
    busyboxRootfs(path.join(work, 'rootfs'))
    for (const dir of [a, b]) builds.push(await load(dir, path.join(work, 'rootfs')))
    for (const build of builds) await burst(build, Number(count))
    for (const build of builds) (build.walls.length = 0), (build.cpus.length = 0)
    const load0 = os.loadavg()[0]
    for (let i = 0; i < Number(rounds); i++) for (const build of i % 2 ? [...builds].reverse() : builds) await burst(build, Number(count))
    console.log(`\n## A/B: ${count} containers at once, wall (rounds=${rounds}, interleaved, load ${load0.toFixed(2)} -> ${os.loadavg()[0].toFixed(2)})`)
    console.log(`  A = ${a}\n  B = ${b}`)
    const [A, B] = builds.map((x) => summarize(x.walls))
    row('', 'A p50', 'B p50', 'B / A', 'A min', 'B min')
    row('wall', fmt(A.p50), fmt(B.p50), `${(B.p50 / A.p50).toFixed(2)}x`, fmt(Math.min(...builds[0].walls)), fmt(Math.min(...builds[1].walls)))
    const [cA, cB] = builds.map((x) => summarize(x.cpus))
    row('CPU (ours + reaped children)', fmt(cA.p50), fmt(cB.p50), `${(cB.p50 / cA.p50).toFixed(2)}x`, fmt(Math.min(...builds[0].cpus)), fmt(Math.min(...builds[1].cpus)))
  } finally {
    for (const build of builds) {
      await build.runtime.close()
      fs.rmSync(build.runtime.root, { recursive: true, force: true })
    }
    fs.rmSync(work, { recursive: true, force: true })
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
