// `npm run bench -- start --breakdown`: where the time of run() -> observed exit of /bin/true goes,
// step by step (rm: true, every default on: cgroup, seccomp, json-file log, owner watch). Node stamps
// its steps and the shim and the container's child theirs (native/steps.h), all on CLOCK_MONOTONIC.
'use strict'
const { run } = require('../dist')
const { openTrace, closeTrace, stamp } = require('../dist/util/start-trace')
const { summarize, fmt, row } = require('./stats')

/** One traced start on `network`: step -> ms since run() was called. */
async function tracedStart(runtime, ref, network = 'none') {
  const trace = openTrace()
  try {
    const c = await run(ref, ['/bin/true'], { runtime, network, rm: true })
    await c.wait()
    stamp('bench: wait() resolved')
  } finally {
    closeTrace()
  }
  const t0 = trace.get('node: run called')
  return new Map([...trace].map(([step, ns]) => [step, Number(ns - t0) / 1e6]))
}

/** Per step, the p50 of its time since run() and of its time since the step before it (in median order). */
function table(traces) {
  const steps = new Map()
  for (const t of traces) for (const [step, ms] of t) steps.set(step, [...(steps.get(step) ?? []), ms])
  const order = [...steps].map(([step, ms]) => ({ step, at: summarize(ms).p50 })).sort((a, b) => a.at - b.at)
  row('step', 'p50 since run()', 'p50 step', 'seen in')
  order.forEach(({ step, at }, i) => {
    const before = order[i - 1]?.step
    const deltas = traces.filter((t) => t.has(step) && (!before || t.has(before))).map((t) => t.get(step) - (before ? t.get(before) : 0))
    row(step, fmt(at), fmt(summarize(deltas).p50), `${steps.get(step).length}/${traces.length}`)
  })
}

/**
 * The breakdown on network 'none' back to back, then 20 ms apart (the next container pre-started
 * meanwhile, claimed by the run: 'node: claim sent'), then on the default bridge (issue 20: a bridge
 * adds <= 1 ms; its own steps are 'net: ...').
 */
async function breakdown(runtime, ref, n) {
  for (const [network, apartMs] of [['none', 0], ['none', 20], ['bridge', 0]]) {
    const load = require('node:os').loadavg()[0].toFixed(2)
    const spacing = apartMs ? `${apartMs} ms apart` : 'back to back'
    console.log(`\n## Start breakdown: run() to observed exit of /bin/true, rm: true, net ${network}, ${spacing}, every default on (n=${n}, load ${load})`)
    const traces = []
    for (let i = 0; i < n + 10; i++) {
      if (apartMs) await new Promise((resolve) => setTimeout(resolve, apartMs))
      const trace = await tracedStart(runtime, ref, network)
      if (i >= 10) traces.push(trace)
    }
    table(traces)
  }
}

module.exports = { breakdown, tracedStart, table }
