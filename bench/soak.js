// Soak harness (issue 12): run -> exec -> copyTo -> remove cycles with a bridge, a published port
// and a volume. Every --every cycles it prints heap-after-GC, RSS, open fds, the runtime's links,
// its nf_tables rule count and the cycle time; exits 1 when fds, links or rules are not exactly
// flat, or heap-after-GC grows more than --heap-mib after the first checkpoint (the warm-up).
//
//   node --expose-gc bench/soak.js [--cycles 10000] [--every 1000] [--heap-mib 1] [--pool 10.213.94.0/24]
//
// Traffic goes only to loopback and to the containers made here.
'use strict'
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const dist = path.join(__dirname, '../dist')

function flags(argv) {
  const f = { cycles: 10000, every: 1000, 'heap-mib': 1, pool: '10.213.94.0/24' }
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '')
    if (!(key in f)) throw new Error(`unknown flag ${argv[i]}`)
    f[key] = typeof f[key] === 'number' ? Number(argv[i + 1]) : argv[i + 1]
  }
  return f
}

const now = () => Number(process.hrtime.bigint()) / 1e6
const MiB = 1024 * 1024

/** Interfaces whose names start with one of the runtime's prefixes. */
function links(names) {
  return execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).split('\n')
    .map((l) => (l.split(': ')[1] || '').split('@')[0]).filter((n) => n.startsWith(names.bridgePrefix) || n.startsWith(names.vethPrefix)).length
}

/** Rules in the runtime's nf_tables table (0 when the table does not exist). */
function rules(names) {
  try {
    return execFileSync('nft', ['-a', 'list', 'table', 'ip', names.table], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n').filter((l) => /# handle \d+$/.test(l) && !/\b(table|chain)\b.*\{/.test(l)).length
  } catch {
    return 0
  }
}

/** One line of figures, after a full GC. */
function checkpoint(cycle, names, msPerCycle) {
  global.gc()
  global.gc()
  return {
    cycle, heapMiB: +(process.memoryUsage().heapUsed / MiB).toFixed(2), rssMiB: +(process.memoryUsage().rss / MiB).toFixed(1),
    fds: fs.readdirSync('/proc/self/fd').length, links: links(names), rules: rules(names), msPerCycle: +msPerCycle.toFixed(2),
  }
}

/** The invariants over all checkpoints: fds, links and rules exactly flat; heap within the bound after warm-up. */
function verdict(points, heapMiB) {
  const failures = []
  const first = points[0]
  for (const k of ['fds', 'links', 'rules']) {
    const seen = [...new Set(points.map((p) => p[k]))]
    if (seen.length > 1) failures.push(`${k} not flat: ${points.map((p) => p[k]).join(' -> ')}`)
  }
  const growth = Math.max(...points.map((p) => p.heapMiB)) - first.heapMiB
  if (growth > heapMiB) failures.push(`heap after GC grew ${growth.toFixed(2)} MiB after warm-up (limit ${heapMiB} MiB): ${points.map((p) => p.heapMiB).join(' -> ')}`)
  return failures
}

async function main() {
  const f = flags(process.argv.slice(2))
  if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc')
  if (!fs.existsSync(path.join(dist, 'index.js'))) throw new Error('build first: npm run build')
  const { Runtime, Image, Volume, run } = require(dist)
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-soak-'))
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-soak-cp-'))
  const file = path.join(tmp, 'payload.txt')
  fs.writeFileSync(file, 'soak\n')
  const runtime = new Runtime({ root, subnetPool: [f.pool] })
  const names = runtime.networks.names
  const points = []
  try {
    await Image.fromHost({ runtime })
    await Volume.create('soakvol', { runtime })
    let t = now()
    for (let i = 1; i <= f.cycles; i++) {
      const c = await run('host', ['sleep', '600'], { runtime, network: 'bridge', ports: ['127.0.0.1::80'], volumes: ['soakvol:/data'] })
      const r = await c.exec(['true'])
      if (r.exitCode !== 0) throw new Error(`exec exited ${r.exitCode} at cycle ${i}`)
      await c.copyTo(file, '/tmp')
      await c.remove({ force: true })
      if (i % f.every === 0) {
        const p = checkpoint(i, names, (now() - t) / f.every)
        points.push(p)
        console.log(`cycle ${p.cycle}: heap after GC ${p.heapMiB} MiB, RSS ${p.rssMiB} MiB, fds ${p.fds}, links ${p.links}, rules ${p.rules}, ${p.msPerCycle} ms/cycle`)
        t = now()
      }
    }
  } finally {
    await runtime.close().catch((e) => console.error('close:', e))
    fs.rmSync(root, { recursive: true, force: true })
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  const failures = points.length ? verdict(points, f['heap-mib']) : ['no checkpoint reached (cycles < every)']
  for (const x of failures) console.log(`FAIL ${x}`)
  console.log(`SOAK ${JSON.stringify({ points, failures })}`)
  console.log(`${f.cycles} cycles: ${failures.length ? `${failures.length} invariant failures` : 'all invariants held'}`)
  process.exitCode = failures.length ? 1 : 0
}

main().catch((err) => {
  console.error(err)
  process.exit(2)
})
