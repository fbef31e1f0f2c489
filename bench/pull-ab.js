// Pull A/B (issue 20): Image.pull of the registry bench's ~200 MB image (bench/registry.js) by one or
// more builds of minicontainer, against `docker pull` of the same image, interleaved: every round runs
// each peer once, in a rotating order, so that the load of a shared machine meets them alike. Each
// Image.pull runs in a child process of its own (fresh runtime root), timed from before the pull to
// its data on disk (sync), with the child's peak RSS (VmHWM, exact rather than sampled).
//
//   node bench/pull-ab.js [--rounds 8] [--image big|small-files] [label=path/to/dist ...]
//
// With no label=dist, the dist of this tree is the one variant. Prints each peer's median and best,
// docker's median over each variant's median, and the peak RSS.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, execFile } = require('node:child_process')
const { registry, IMAGES, dockerPuller } = require('./registry')
const { fmt, row, summarize } = require('./stats')

/** CPU seconds (user + system) in a /proc stat line. */
const ticks = (stat) => stat.slice(stat.lastIndexOf(')') + 2).split(' ').slice(11, 13).reduce((a, t) => a + Number(t), 0) / 100
/** CPU seconds of this process's main thread so far. */
const mainCpu = () => ticks(fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8'))

/** In the child: pull `ref` into a fresh runtime at `root` with the minicontainer at `dist`; prints { ms, peakMiB }. */
async function child(dist, ref, root) {
  const { Image, Runtime } = require(dist)
  const runtime = new Runtime({ root })
  execFileSync('sync')
  const mainBefore = mainCpu()
  const t0 = performance.now()
  await Image.pull(ref, { runtime })
  const pullMs = performance.now() - t0
  const mainPull = mainCpu() - mainBefore
  execFileSync('sync')
  const ms = performance.now() - t0
  await runtime.close()
  const hwm = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]
  // CPU seconds of the main thread during the pull, and of the whole process: figures the load beside moves less than wall time.
  const cpu = { main: mainPull, all: ticks(fs.readFileSync('/proc/self/stat', 'utf8')) }
  process.stdout.write(JSON.stringify({ ms, pullMs, peakMiB: Number(hwm) / 1024, cpu }))
}

/** One Image.pull in a child process; the runtime root is removed afterwards. */
function pullIn(dist, ref, work) {
  const root = fs.mkdtempSync(path.join(work, 'root-'))
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [...(process.env.PULL_AB_NODE_FLAGS ?? '').split(' ').filter(Boolean), __filename, '--child', dist, ref, root], { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      fs.rmSync(root, { recursive: true, force: true })
      try {
        if (err || !stdout) throw new Error(stderr || err?.message || 'it printed nothing')
        resolve(JSON.parse(stdout))
      } catch (e) {
        reject(new Error(`pull child failed: ${e.message}`)) // rejected, not thrown here: main's finally stops the registry and engine
      }
    }),
  )
}

function flags(argv) {
  const f = { rounds: 8, image: 'big', variants: [] }
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--rounds') f.rounds = Number(argv[++i])
    else if (argv[i] === '--image') f.image = argv[++i]
    else if (argv[i].includes('=')) {
      const [label, dist] = argv[i].split('=')
      f.variants.push({ label, dist: path.resolve(dist) })
    } else throw new Error(`unknown argument ${argv[i]}`)
  }
  if (!f.variants.length) f.variants.push({ label: 'Image.pull', dist: path.join(__dirname, '../dist') })
  return f
}

async function main() {
  const f = flags(process.argv.slice(2))
  const img = IMAGES.find((i) => i.name.startsWith(`bench/${f.image}:`))
  if (!img) throw new Error(`no image ${f.image}`)
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-pull-ab-'))
  const reg = await registry(work)
  let docker
  try {
    const layout = img.build(work)
    execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}`, `docker://${reg.host}/${img.name}`])
    docker = await dockerPuller([{ ...img, layout }], reg, work)
    if (!docker.pull) throw new Error(`docker pull cannot run: ${docker.skipped}`)
    const ref = `${reg.host}/${img.name}`
    const peers = [...f.variants.map((v) => ({ label: v.label, run: () => pullIn(v.dist, ref, work) })), { label: `docker pull (${docker.label})`, run: async () => ({ ms: await docker.pull(img.name) }) }]
    const ms = peers.map(() => [])
    const peak = peers.map(() => 0)
    const cpu = peers.map(() => ({ main: [], all: [] }))
    console.log(`## pull A/B: ${img.title}, ${f.rounds} interleaved rounds, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`)
    for (let r = 0; r < f.rounds; r++) {
      const line = []
      for (let i = 0; i < peers.length; i++) {
        const p = (i + r) % peers.length
        const out = await peers[p].run()
        ms[p].push(out.ms)
        if (out.peakMiB) peak[p] = Math.max(peak[p], out.peakMiB)
        if (out.cpu) for (const k of ['main', 'all']) cpu[p][k].push(out.cpu[k])
        line.push(`${peers[p].label} ${out.ms.toFixed(0)}${out.cpu ? ` (cpu main ${out.cpu.main.toFixed(2)} s, all ${out.cpu.all.toFixed(2)} s)` : ''}`)
      }
      console.log(`round ${r + 1}: ${line.join(', ')} (load ${os.loadavg()[0].toFixed(2)})`)
    }
    const dockerMedian = summarize(ms[peers.length - 1]).p50
    row('peer', 'median', 'best', 'docker/this', 'peak RSS', 'CPU main/all')
    const cpuCol = (c) => (c.main.length ? `${summarize(c.main).p50.toFixed(2)}/${summarize(c.all).p50.toFixed(2)} s` : '')
    peers.forEach((p, i) => row(p.label, fmt(summarize(ms[i]).p50), fmt(Math.min(...ms[i])), `${(dockerMedian / summarize(ms[i]).p50).toFixed(2)}x`, peak[i] ? `${peak[i].toFixed(0)} MiB` : '', cpuCol(cpu[i])))
    console.log(`load after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  } finally {
    await docker?.stop()
    reg.stop()
    fs.rmSync(work, { recursive: true, force: true })
  }
}

if (process.argv[2] === '--child')
  child(...process.argv.slice(3)).catch((err) => {
    console.error(err)
    process.exit(1)
  })
else
  main().catch((err) => {
    console.error(err)
    process.exit(1)
  })
