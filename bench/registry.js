// Registry pull: a ~200 MB multi-layer image, and a layer of 5,000 small files, from a docker-registry
// on loopback, Image.pull against
// `skopeo copy` + `umoci unpack` (the same bytes, the same disk, the same run), peak RSS of the
// pulling process, and the second pull of an image whose layers are all present (manifest only);
// and `docker pull` of the same image when an engine can run (bench/docker.js): the host's pulls from
// the same registry, a private one from a registry on its own namespace's loopback. The peers take
// turns within each round, so that a change of load meets each of them alike.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const net = require('node:net')
const path = require('node:path')
const crypto = require('node:crypto')
const { execFileSync, spawn } = require('node:child_process')
const { Image, Runtime } = require('../dist')
const { fmt, row, now, peakRss, summarize, timedSynced } = require('./stats')
const { dockerEngine } = require('./docker')

const LAYERS = 4
const LAYER_MIB = Number(process.env.BENCH_LAYER_MIB ?? 50)

function tool(name) {
  try {
    execFileSync('which', [name], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

async function freePort() {
  const srv = net.createServer().listen(0, '127.0.0.1')
  await new Promise((r) => srv.once('listening', r))
  const { port } = srv.address()
  await new Promise((r) => srv.close(r))
  return port
}

/**
 * docker-registry on 127.0.0.1 with storage under `dir`, in the network namespace `netns` when given
 * (a private engine's); resolves once it listens (its log says so: a probe could not reach that namespace).
 */
async function registry(dir, netns) {
  const port = await freePort()
  const config = path.join(dir, 'config.yml')
  fs.writeFileSync(config, `version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`)
  const argv = ['docker-registry', 'serve', config]
  const child = netns ? spawn('nsenter', [`--net=${netns}`, '--', ...argv], { stdio: ['ignore', 'ignore', 'pipe'] }) : spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] })
  const stop = () => child.kill('SIGKILL')
  let log = ''
  const listening = new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      log = (log + d).slice(-4000)
      if (log.includes(`listening on 127.0.0.1:${port}`)) resolve()
    })
    child.once('exit', (code) => reject(new Error(`docker-registry exited with ${code}: ${log}`)))
    setTimeout(() => reject(new Error(`docker-registry did not listen within 10 s: ${log}`)), 10_000).unref()
  })
  await listening.catch((err) => {
    stop()
    throw err
  })
  child.stderr.resume()
  return { host: `127.0.0.1:${port}`, stop }
}

/** A fresh OCI layout at `work/name` holding one image, built by umoci: `fill(rootfs, i)` makes layer i. */
function buildLayout(work, name, layers, fill) {
  const layout = path.join(work, name)
  const image = `${layout}:latest`
  execFileSync('umoci', ['init', '--layout', layout])
  execFileSync('umoci', ['new', '--image', image])
  for (let i = 0; i < layers; i++) {
    const bundle = path.join(work, `${name}-bundle${i}`)
    execFileSync('umoci', ['unpack', '--image', image, bundle])
    fill(path.join(bundle, 'rootfs'), i)
    execFileSync('umoci', ['repack', '--image', image, bundle])
    fs.rmSync(bundle, { recursive: true, force: true })
  }
  execFileSync('umoci', ['config', '--image', image, '--config.cmd', 'true'])
  return image
}

/** LAYERS layers of LAYER_MIB MiB of incompressible data each, and 200 small files. */
function bigLayer(rootfs, i) {
  const fd = fs.openSync(path.join(rootfs, `layer${i}.bin`), 'w')
  for (let m = 0; m < LAYER_MIB; m++) fs.writeSync(fd, crypto.randomBytes(1 << 20))
  fs.closeSync(fd)
  fs.mkdirSync(path.join(rootfs, `etc${i}`))
  for (let f = 0; f < 200; f++) fs.writeFileSync(path.join(rootfs, `etc${i}`, `f${f}`), `file ${f}\n`.repeat(50))
}

/** 5,000 small text files (0.5-2 KiB) in 50 directories, as a distribution's /usr/share holds them. */
function smallFilesLayer(rootfs) {
  for (let d = 0; d < 50; d++) {
    const dir = path.join(rootfs, 'usr', 'share', `d${d}`)
    fs.mkdirSync(dir, { recursive: true })
    for (let f = 0; f < 100; f++) fs.writeFileSync(path.join(dir, `f${f}.txt`), `line ${f} of a file in ${d}\n`.repeat(20 + (f % 50)))
  }
}

/** The images compared: a name in the registries, a title, how umoci builds it. */
const IMAGES = [
  { name: 'bench/big:1', title: `${LAYERS} layers x ${LAYER_MIB} MiB`, build: (work) => buildLayout(work, 'big', LAYERS, bigLayer) },
  { name: 'bench/small-files:1', title: '1 layer of 5,000 small files', build: (work) => buildLayout(work, 'small-files', 1, smallFilesLayer) },
]

async function registryBench() {
  const missing = ['docker-registry', 'skopeo', 'umoci'].filter((t) => !tool(t))
  if (missing.length) {
    console.log(`\n## registry pull: skipped (${missing.join(', ')} not installed: apt-get install docker-registry skopeo umoci)`)
    return
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-bench-reg-'))
  const reg = await registry(work)
  let docker
  try {
    const images = IMAGES.map((img) => ({ ...img, layout: img.build(work) }))
    for (const img of images) execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${img.layout}`, `docker://${reg.host}/${img.name}`])
    docker = await dockerPuller(images, reg, work)
    for (const img of images) await comparePulls(img, `${reg.host}/${img.name}`, docker, work)
  } finally {
    await docker?.stop()
    reg.stop()
    fs.rmSync(work, { recursive: true, force: true })
  }
}

/**
 * Image.pull of `ref` against skopeo copy + umoci unpack and docker pull, each to its data on disk,
 * taking turns within each round; prints best and median of each, the second pull and peak RSS.
 */
async function comparePulls(img, ref, docker, work) {
  console.log(`\n## registry pull: ${img.title} from docker-registry on 127.0.0.1`)
  row('case', 'best', 'median', 'vs Image.pull')
  const rounds = Number(process.env.BENCH_PULL_ROUNDS ?? 3)
  const ours = []
  const theirs = []
  const dockers = []
  const second = []
  let rss = 0
  const oursRun = async (r) => {
    const runtime = new Runtime({ root: path.join(work, `root-${r}`) })
    try {
      rss = Math.max(rss, await peakRss(async () => ours.push(await timedSynced(() => Image.pull(ref, { runtime })))))
      const t1 = now()
      await Image.pull(ref, { runtime })
      second.push(now() - t1)
    } finally {
      await runtime.close()
      fs.rmSync(runtime.root, { recursive: true, force: true })
    }
  }
  const skopeoRun = async (r) => {
    const dest = path.join(work, `skopeo-${r}`)
    theirs.push(
      await timedSynced(async () => {
        execFileSync('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${dest}:1`])
        execFileSync('umoci', ['unpack', '--image', `${dest}:1`, `${dest}-bundle`])
      }),
    )
    fs.rmSync(dest, { recursive: true, force: true })
    fs.rmSync(`${dest}-bundle`, { recursive: true, force: true })
  }
  const dockerRun = async () => dockers.push(await docker.pull(img.name))
  // Each round in another order, so that a change of load or a colder cache meets every peer alike.
  const peers = [oursRun, skopeoRun, ...(docker.pull ? [dockerRun] : [])]
  for (let r = 0; r < rounds; r++) for (let i = 0; i < peers.length; i++) await peers[(i + r) % peers.length](r)
  const best = (xs) => Math.min(...xs)
  const ratio = (xs) => `${(best(xs) / best(ours)).toFixed(2)}x`
  row('Image.pull', fmt(best(ours)), fmt(median(ours)), '')
  row('skopeo copy + umoci unpack', fmt(best(theirs)), fmt(median(theirs)), ratio(theirs))
  if (docker.pull) row(`docker pull (${docker.label})`, fmt(best(dockers)), fmt(median(dockers)), ratio(dockers))
  else row('docker pull', `n/a: ${docker.skipped}`, '', '')
  row('second pull (manifest only)', fmt(best(second)), fmt(median(second)), '')
  row('peak RSS of the pulling process', `${(rss / 2 ** 20).toFixed(0)} MiB`, '', '')
}

const median = (xs) => summarize(xs).p50

/**
 * `docker pull` of the images by name, each removed after its pull: `{ label, pull(name), stop() }`, or
 * `{ skipped, stop() }` when no engine can run. A private engine pulls from a registry on its own
 * namespace's loopback, holding the same images.
 */
async function dockerPuller(images, reg, work) {
  const engine = await dockerEngine()
  if (engine.skipped) return { skipped: engine.skipped, stop: async () => {} }
  let own
  try {
    if (engine.netns) {
      fs.mkdirSync(path.join(work, 'engine-registry'))
      own = await registry(path.join(work, 'engine-registry'), engine.netns)
      for (const img of images)
        execFileSync('nsenter', [`--net=${engine.netns}`, '--', 'skopeo', 'copy', '--quiet', '--dest-tls-verify=false', `oci:${img.layout}`, `docker://${own.host}/${img.name}`])
    }
  } catch (err) {
    own?.stop()
    await engine.stop()
    throw err
  }
  const host = (own ?? reg).host
  return {
    label: engine.label,
    pull: async (name) => {
      const ms = await timedSynced(() => engine.ok(['pull', '-q', `${host}/${name}`]))
      await engine.ok(['rmi', `${host}/${name}`])
      return ms
    },
    stop: async () => {
      own?.stop()
      await engine.stop()
    },
  }
}

module.exports = registryBench
// For bench/pull-ab.js: the same registry, image and docker peer.
Object.assign(module.exports, { registry, IMAGES, dockerPuller })
