// What resource limits cost: start latency with memory, CPU and pids limits against the same start
// without them (interleaved, same run), the cgroup's own create-and-remove cost, and stats() sampling.
'use strict'
const { run, Image } = require('../dist')
const { summarize, fmt, row, now } = require('./stats')

const N = Number(process.env.BENCH_N ?? 100)
const LIMITS = { memory: '256m', cpus: 1, pidsLimit: 100 }

async function startOnce(runtime, opts) {
  const t0 = now()
  const c = await run('host', ['/bin/true'], { runtime, network: 'none', ...opts })
  await c.wait()
  const ms = now() - t0
  await c.remove()
  return ms
}

/** Alternates the two variants start by start, so both see the same background load. */
async function startWithAndWithout(runtime) {
  for (let i = 0; i < 10; i++) await startOnce(runtime, i % 2 ? LIMITS : {})
  const plain = []
  const limited = []
  for (let i = 0; i < N; i++) {
    plain.push(await startOnce(runtime, {}))
    limited.push(await startOnce(runtime, LIMITS))
  }
  return { plain: summarize(plain), limited: summarize(limited) }
}

/** The cgroup alone: make it with limits (every hierarchy of the host), then remove it. */
async function cgroupCost(runtime, n = 200) {
  const res = { memory: 256 << 20, cpuQuota: 100000, cpuPeriod: 100000, pidsLimit: 100, rlimits: [] }
  const ms = []
  for (let i = 0; i < n; i++) {
    const id = `bench${String(i).padStart(59, '0')}`
    const t0 = now()
    runtime.cgroups.prepare(id, res, { readOnly: true })
    await runtime.cgroups.release(id)
    ms.push(now() - t0)
  }
  return summarize(ms)
}

async function statsCost(runtime, n = 1000) {
  const c = await run('host', ['sleep', '60'], { runtime, memory: '64m' })
  try {
    for (let i = 0; i < 50; i++) await c.stats()
    const ms = []
    for (let i = 0; i < n; i++) {
      const t0 = now()
      await c.stats()
      ms.push(now() - t0)
    }
    return summarize(ms)
  } finally {
    await c.remove({ force: true })
  }
}

module.exports = async function limits(runtime) {
  await Image.fromHost({ runtime })
  console.log(`\n## Resource limits (${runtime.cgroups.layout} cgroups; n=${N} starts each, interleaved; host image, /bin/true, net none)`)
  const { plain, limited } = await startWithAndWithout(runtime)
  row('start', 'p50', 'p95', 'added (p50)')
  row('no limits (cgroup for accounting)', fmt(plain.p50), fmt(plain.p95), '')
  row('memory + cpus + pidsLimit', fmt(limited.p50), fmt(limited.p95), fmt(limited.p50 - plain.p50))
  const cg = await cgroupCost(runtime)
  row('cgroup create+limit+remove', fmt(cg.p50), fmt(cg.p95), '')
  const st = await statsCost(runtime)
  row('stats() one sample', fmt(st.p50 * 1000, 'µs'), fmt(st.p95 * 1000, 'µs'), '')
}
