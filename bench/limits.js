// What resource limits cost: start latency with memory, CPU and pids limits (and with them plus Docker's
// default seccomp profile) against the same start with neither (interleaved, same run), the cgroup's own
// create-and-remove cost, and stats() sampling.
'use strict'
const { run, Image } = require('../dist')
const { summarize, fmt, row, now, startToExit } = require('./stats')

const N = Number(process.env.BENCH_N ?? 100)
const LIMITS = { memory: '256m', cpus: 1, pidsLimit: 100 }

function startOnce(runtime, opts) {
  return startToExit(runtime, 'host', opts)
}

const VARIANTS = [
  ['neither (unconfined, no limits)', { securityOpt: ['seccomp=unconfined'] }],
  ['memory + cpus + pidsLimit', { securityOpt: ['seccomp=unconfined'], ...LIMITS }],
  ['limits + default seccomp profile', LIMITS],
]

/** Alternates the variants start by start, so all see the same background load. */
async function startVariants(runtime) {
  for (let i = 0; i < 10; i++) for (const [, opts] of VARIANTS) await startOnce(runtime, opts)
  const samples = VARIANTS.map(() => [])
  for (let i = 0; i < N; i++) for (const [k, [, opts]] of VARIANTS.entries()) samples[k].push(await startOnce(runtime, opts))
  return samples.map(summarize)
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
  console.log(`\n## Resource limits (${runtime.cgroups.layout} cgroups; every container has a cgroup; n=${N} starts each, interleaved; host image, /bin/true, net none)`)
  const [base, ...rest] = await startVariants(runtime)
  row('start', 'p50', 'p95', 'added (p50)')
  row(VARIANTS[0][0], fmt(base.p50), fmt(base.p95), '')
  for (const [k, r] of rest.entries()) row(VARIANTS[k + 1][0], fmt(r.p50), fmt(r.p95), fmt(r.p50 - base.p50))
  const cg = await cgroupCost(runtime)
  row('cgroup create+limit+remove', fmt(cg.p50), fmt(cg.p95), '')
  const st = await statsCost(runtime)
  row('stats() one sample', fmt(st.p50 * 1000, 'µs'), fmt(st.p95 * 1000, 'µs'), '')
}
