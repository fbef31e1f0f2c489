// Image load: a multi-layer archive of about 200 MB (an OCI layout built by umoci, as a tar), loaded
// into a fresh store, against `skopeo copy` + `umoci unpack` of the same archive, in the same run;
// and the same image as a docker-archive (skopeo's conversion, made once) against `docker load` on an
// engine (the host's, or a private one: bench/docker.js), the image removed from both after each round.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const crypto = require('node:crypto')
const { execFileSync } = require('node:child_process')
const { Image, Runtime } = require('../dist')
const { fmt, row, peakRss, timedSynced: timed } = require('./stats')
const { dockerEngine } = require('./docker')

const LAYERS = Number(process.env.BENCH_IMAGE_LAYERS ?? 4)
const LAYER_MIB = Number(process.env.BENCH_LAYER_MIB ?? 96)

const sh = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 }).toString()

/** Half random, half repetitive data: gzip shrinks it, as it shrinks real layers, without making it trivial. */
function writeLayerFiles(dir, layer) {
  fs.mkdirSync(dir, { recursive: true })
  const random = crypto.randomBytes(1 << 19)
  const text = Buffer.from(`layer ${layer} `.repeat(1 << 15)).subarray(0, 1 << 19)
  for (let f = 0; f < LAYER_MIB / 8; f++) {
    const fd = fs.openSync(path.join(dir, `f${f}.bin`), 'w')
    for (let i = 0; i < 8; i++) {
      fs.writeSync(fd, random)
      fs.writeSync(fd, text)
    }
    fs.closeSync(fd)
  }
}

function buildArchive(work) {
  const layout = path.join(work, 'oci')
  const bundle = path.join(work, 'bundle')
  sh('umoci', ['init', '--layout', layout])
  sh('umoci', ['new', '--image', `${layout}:bench`])
  sh('umoci', ['unpack', '--image', `${layout}:bench`, bundle])
  for (let l = 0; l < LAYERS; l++) {
    writeLayerFiles(path.join(bundle, 'rootfs', `layer${l}`), l)
    sh('umoci', ['repack', '--refresh-bundle', '--image', `${layout}:bench`, bundle])
  }
  fs.rmSync(bundle, { recursive: true, force: true })
  const archive = path.join(work, 'image.tar')
  sh('tar', ['-C', layout, '-cf', archive, '.'])
  fs.rmSync(layout, { recursive: true, force: true })
  return archive
}

module.exports = async function imagesBench() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-bench-img-'))
  try {
    const archive = buildArchive(work)
    const mib = fs.statSync(archive).size / 2 ** 20
    console.log(`\n## image load: ${LAYERS} layers, ${mib.toFixed(0)} MiB archive (OCI layout tar, gzip layers), fresh store each round`)
    row('round', 'minicontainer', 'skopeo+umoci', 'theirs / ours')
    let rss = 0
    for (let round = 0; round < 2; round++) {
      const root = fs.mkdtempSync(path.join(work, 'root-'))
      const runtime = new Runtime({ root })
      const theirs = path.join(work, `theirs-${round}`)
      fs.mkdirSync(theirs)
      const ours = () => Image.load(archive, { runtime })
      const skopeoUmoci = () => {
        sh('skopeo', ['copy', '-q', `oci-archive:${archive}`, `oci:${theirs}/layout:bench`])
        sh('umoci', ['unpack', '--image', `${theirs}/layout:bench`, `${theirs}/bundle`])
      }
      // Alternate the order so neither side always meets the colder cache.
      let mine
      let baseline = round % 2 ? await timed(skopeoUmoci) : undefined
      rss = Math.max(rss, await peakRss(async () => (mine = await timed(ours))))
      baseline ??= await timed(skopeoUmoci)
      row(`load #${round + 1}`, fmt(mine), fmt(baseline), `${(baseline / mine).toFixed(2)}x`)
      await runtime.close()
      fs.rmSync(root, { recursive: true, force: true })
      fs.rmSync(theirs, { recursive: true, force: true })
    }
    row('peak RSS while loading', `${(rss / 2 ** 20).toFixed(0)} MiB`, '', '')
    await dockerLoadRows(archive, work)
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
}

/** Alternates `a` and `b` (neither always meets the colder cache); returns both times. */
async function pair(round, a, b) {
  let tb = round % 2 ? await timed(b) : undefined
  const ta = await timed(a)
  tb ??= await timed(b)
  return [ta, tb]
}

/** docker load of the image as a docker-archive against Image.load of the same file, fresh stores each round. */
async function dockerLoadRows(ociArchive, work) {
  const engine = await dockerEngine()
  if (engine.skipped) return row('docker load', `n/a: ${engine.skipped}`, '', '')
  try {
    const archive = path.join(work, 'docker-archive.tar')
    sh('skopeo', ['copy', '-q', `oci-archive:${ociArchive}`, `docker-archive:${archive}:mc-bench-load:latest`])
    console.log(`\n## docker-archive load (${(fs.statSync(archive).size / 2 ** 20).toFixed(0)} MiB, skopeo's conversion) against docker load (${engine.label})`)
    row('round', 'minicontainer', 'docker load', 'docker / ours')
    for (let round = 0; round < 2; round++) {
      const root = fs.mkdtempSync(path.join(work, 'root-'))
      const runtime = new Runtime({ root })
      const [ours, docker] = await pair(
        round,
        () => Image.load(archive, { runtime }),
        () => engine.ok(['load', '-q', '-i', archive]),
      )
      row(`load #${round + 1}`, fmt(ours), fmt(docker), `${(docker / ours).toFixed(2)}x`)
      await engine.ok(['rmi', 'mc-bench-load:latest'])
      await runtime.close()
      fs.rmSync(root, { recursive: true, force: true })
    }
  } finally {
    await engine.stop()
  }
}
