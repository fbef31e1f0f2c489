// Registry pull: a ~200 MB multi-layer image from a docker-registry on loopback, Image.pull against
// `skopeo copy` + `umoci unpack` (the same bytes, the same disk, the same run), peak RSS of the
// pulling process, and the second pull of an image whose layers are all present (manifest only).
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const net = require('node:net')
const path = require('node:path')
const crypto = require('node:crypto')
const { execFileSync, spawn } = require('node:child_process')
const { Image, Runtime } = require('../dist')
const { fmt, row, now, peakRss } = require('./stats')

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

/** docker-registry on 127.0.0.1 with storage under `dir`; resolves once it accepts connections. */
async function registry(dir) {
  const port = await freePort()
  const config = path.join(dir, 'config.yml')
  fs.writeFileSync(config, `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`)
  const child = spawn('docker-registry', ['serve', config], { stdio: 'ignore' })
  for (let i = 0; i < 100; i++) {
    const up = await new Promise((r) => net.connect(port, '127.0.0.1').once('connect', function () { this.destroy(); r(true) }).once('error', () => r(false)))
    if (up) return { host: `127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') }
    await new Promise((r) => setTimeout(r, 100))
  }
  child.kill('SIGKILL')
  throw new Error('docker-registry did not start')
}

/** An OCI layout with LAYERS layers of LAYER_MIB MiB of incompressible data each, built by umoci. */
function buildLayout(work) {
  const layout = path.join(work, 'layout')
  const image = `${layout}:latest`
  execFileSync('umoci', ['init', '--layout', layout])
  execFileSync('umoci', ['new', '--image', image])
  for (let i = 0; i < LAYERS; i++) {
    const bundle = path.join(work, `bundle${i}`)
    execFileSync('umoci', ['unpack', '--image', image, bundle])
    const fd = fs.openSync(path.join(bundle, 'rootfs', `layer${i}.bin`), 'w')
    for (let m = 0; m < LAYER_MIB; m++) fs.writeSync(fd, crypto.randomBytes(1 << 20))
    fs.closeSync(fd)
    fs.mkdirSync(path.join(bundle, 'rootfs', `etc${i}`))
    for (let f = 0; f < 200; f++) fs.writeFileSync(path.join(bundle, 'rootfs', `etc${i}`, `f${f}`), `file ${f}\n`.repeat(50))
    execFileSync('umoci', ['repack', '--image', image, bundle])
    fs.rmSync(bundle, { recursive: true, force: true })
  }
  execFileSync('umoci', ['config', '--image', image, '--config.cmd', 'true'])
  return image
}

module.exports = async function registryBench() {
  const missing = ['docker-registry', 'skopeo', 'umoci'].filter((t) => !tool(t))
  if (missing.length) {
    console.log(`\n## registry pull: skipped (${missing.join(', ')} not installed: apt-get install docker-registry skopeo umoci)`)
    return
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-bench-reg-'))
  const reg = await registry(work)
  try {
    const image = buildLayout(work)
    const ref = `${reg.host}/bench/big:1`
    execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${image}`, `docker://${ref}`])
    console.log(`\n## registry pull: ${LAYERS} layers x ${LAYER_MIB} MiB from docker-registry on 127.0.0.1`)
    row('case', 'time', '', '')
    const rounds = Number(process.env.BENCH_PULL_ROUNDS ?? 2)
    const ours = []
    const theirs = []
    const second = []
    let rss = 0
    for (let r = 0; r < rounds; r++) {
      // Alternate the order, so neither side always meets the colder cache.
      const skopeoRun = () => {
        const dest = path.join(work, `skopeo-${r}`)
        const t0 = now()
        execFileSync('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${dest}:1`])
        execFileSync('umoci', ['unpack', '--image', `${dest}:1`, `${dest}-bundle`])
        execFileSync('sync')
        theirs.push(now() - t0)
        fs.rmSync(dest, { recursive: true, force: true })
        fs.rmSync(`${dest}-bundle`, { recursive: true, force: true })
      }
      if (r % 2) skopeoRun()
      const runtime = new Runtime({ root: path.join(work, `root-${r}`) })
      try {
        rss = Math.max(rss, await peakRss(async () => {
          const t0 = now()
          await Image.pull(ref, { runtime })
          execFileSync('sync')
          ours.push(now() - t0)
        }))
        const t1 = now()
        await Image.pull(ref, { runtime })
        second.push(now() - t1)
      } finally {
        await runtime.close()
        fs.rmSync(runtime.root, { recursive: true, force: true })
      }
      if (!(r % 2)) skopeoRun()
    }
    const best = (xs) => Math.min(...xs)
    row('Image.pull (best of rounds)', fmt(best(ours)), '', '')
    row('skopeo copy + umoci unpack', fmt(best(theirs)), '', `${(best(theirs) / best(ours)).toFixed(2)}x`)
    row('second pull (manifest only)', fmt(best(second)), '', '')
    row('peak RSS of the pulling process', `${(rss / 2 ** 20).toFixed(0)} MiB`, '', '')
  } finally {
    reg.stop()
    fs.rmSync(work, { recursive: true, force: true })
  }
}
