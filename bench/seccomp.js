// The cost of Docker's default seccomp profile on a start: run() to observed exit of /bin/true
// with the default profile vs seccomp=unconfined, interleaved in the same run.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Image } = require('../dist')
const { summarize, fmt, row, busyboxRootfs, startToExit } = require('./stats')

const N = Number(process.env.BENCH_N ?? 100)
const ROUNDS = 5

async function starts(runtime, ref, n, securityOpt) {
  const ms = []
  for (let i = 0; i < n; i++) ms.push(await startToExit(runtime, ref, { securityOpt }))
  return ms
}

module.exports = async function seccompBench(runtime) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-bench-seccomp-'))
  try {
    busyboxRootfs(path.join(work, 'rootfs'))
    await Image.import(path.join(work, 'rootfs'), { runtime, ref: 'bench-seccomp-bb' })
    const modes = [['default profile', []], ['seccomp=unconfined', ['seccomp=unconfined']]]
    for (const [, opt] of modes) await starts(runtime, 'bench-seccomp-bb', 5, opt) // warm-up, and the filter cache
    const samples = new Map(modes.map(([label]) => [label, []]))
    for (let round = 0; round < ROUNDS; round++)
      for (const [label, opt] of modes) samples.get(label).push(...(await starts(runtime, 'bench-seccomp-bb', Math.ceil(N / ROUNDS), opt)))
    console.log(`\n## Seccomp: start p50 with Docker's default profile vs unconfined (busybox /bin/true, net none; n=${N}, ${ROUNDS} interleaved rounds)`)
    const [withFilter, without] = modes.map(([label]) => summarize(samples.get(label)))
    row('mode', 'p50', 'p95')
    row('default profile', fmt(withFilter.p50), fmt(withFilter.p95))
    row('seccomp=unconfined', fmt(without.p50), fmt(without.p95))
    row('added by the filter (p50)', fmt(withFilter.p50 - without.p50))
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
}
