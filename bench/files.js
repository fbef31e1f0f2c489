// docker cp throughput: a 1 GiB file and a tree of 5,000 small files, in and out of a running
// container, against plain `cp -a` on the same disk in the same run (and docker cp with an engine).
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawnSync } = require('node:child_process')
const { run, Image } = require('../dist')
const { fmt, row, peakRss, timedSynced: timed } = require('./stats')

const FILE_MIB = Number(process.env.BENCH_FILE_MIB ?? 1024)
const SMALL_FILES = 5000

function makeBigFile(file) {
  const chunk = Buffer.alloc(1 << 20)
  for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((i * 2654435761) >>> 0, i)
  const fd = fs.openSync(file, 'w')
  for (let i = 0; i < FILE_MIB; i++) fs.writeSync(fd, chunk)
  fs.closeSync(fd)
}

function makeTree(dir) {
  for (let d = 0; d < 50; d++) {
    fs.mkdirSync(path.join(dir, `d${d}`), { recursive: true })
    for (let f = 0; f < SMALL_FILES / 50; f++) fs.writeFileSync(path.join(dir, `d${d}`, `f${f}.txt`), `file ${d}/${f}\n`.repeat(20))
  }
}

function cpA(src, dest) {
  execFileSync('cp', ['-a', src, dest])
}

module.exports = async function filesBench(runtime) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-bench-cp-'))
  try {
    await Image.fromHost({ runtime, ref: 'bench-host' })
    const c = await run('bench-host', ['sleep', '3600'], { runtime, name: 'bench-cp' })
    const root = `/proc/${(await c.inspect()).state.pid}/root`
    makeBigFile(path.join(work, 'big.bin'))
    makeTree(path.join(work, 'tree'))
    console.log(`\n## docker cp: ${FILE_MIB} MiB file and ${SMALL_FILES} small files, in and out of a running container`)
    row('case', 'minicontainer', 'cp -a', 'ours / cp -a')
    const cases = [
      ['file into container', () => c.copyTo(path.join(work, 'big.bin'), '/tmp/big.bin'), () => cpA(path.join(work, 'big.bin'), path.join(root, 'tmp/big-cp.bin'))],
      ['file out of container', () => c.copyFrom('/tmp/big.bin', path.join(work, 'out.bin')), () => cpA(path.join(root, 'tmp/big.bin'), path.join(work, 'out-cp.bin'))],
      ['5,000 files into container', () => c.copyTo(path.join(work, 'tree'), '/tmp/tree'), () => cpA(path.join(work, 'tree'), path.join(root, 'tmp/tree-cp'))],
      ['5,000 files out of container', () => c.copyFrom('/tmp/tree', path.join(work, 'tree-out')), () => cpA(path.join(root, 'tmp/tree'), path.join(work, 'tree-out-cp'))],
    ]
    let rss = 0
    for (const [i, [label, ours, theirs]] of cases.entries()) {
      // Alternate which side goes first, so neither always meets the colder cache.
      let mine
      let baseline = i % 2 ? await timed(theirs) : undefined
      rss = Math.max(rss, await peakRss(async () => (mine = await timed(ours))))
      baseline ??= await timed(theirs)
      // Throughput ratio: their time over ours (above 1 means faster than cp -a).
      row(label, fmt(mine), fmt(baseline), `${(baseline / mine).toFixed(2)}x`)
    }
    row('peak RSS of this process during copies', fmt(rss / 2 ** 20, 'MiB'))
    if (spawnSync('docker', ['info']).status === 0) row('docker cp', 'engine present: not measured yet')
    else row('docker cp', 'no Docker engine running: skipped')
    await c.remove({ force: true })
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
}
