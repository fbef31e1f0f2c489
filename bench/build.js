// Image.build against Docker 20.10's BuildKit and classic builder (the docker.io package's client with
// DOCKER_BUILDKIT=1 / 0, on the private engine of test/tools/docker-engine.ts) and Debian's buildah
// (vfs storage and runc under a private root, --layers for its cache), same two-stage Dockerfile
// and context, same busybox base in all, RUN steps without network on every side: cold (no cache),
// nothing changed, one source file changed; p50 of the rounds and the ratios.
'use strict'
const { execFile } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Image } = require('../dist')
const { fmt, row, now, summarize, which } = require('./stats')

const ROUNDS = Number(process.env.BENCH_BUILD_ROUNDS ?? 3)
const repo = path.resolve(__dirname, '..')

const dockerfile = `FROM bb:bench AS build
COPY src/ /src/
RUN cat /src/*.txt > /out.txt && wc -c /out.txt > /size.txt

FROM bb:bench
WORKDIR /app
COPY --from=build /out.txt /size.txt ./
CMD ["cat", "/app/out.txt"]
`

function writeContext(dir) {
  fs.mkdirSync(path.join(dir, 'src'), { recursive: true })
  fs.writeFileSync(path.join(dir, 'Dockerfile'), dockerfile)
  for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(dir, 'src', `f${i}.txt`), `file ${i}\n`.repeat(100))
}

module.exports = buildBench
// ab-build.js builds the same project.
module.exports.writeContext = writeContext

async function buildBench(runtime) {
  require(path.join(repo, 'test', 'tools', 'ts-register.js'))
  const { startPrivateDocker, dockerImportBusybox } = require(path.join(repo, 'test', 'tools', 'docker-engine.ts'))
  const { dockerBuildWith } = require(path.join(repo, 'test', 'tools', 'docker-build.ts'))
  const { busyboxRootfs } = require(path.join(repo, 'test', 'helpers.ts'))
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-bench-build-'))
  let engine
  try {
    const rootfs = busyboxRootfs(path.join(work, 'rootfs'))
    await Image.import(rootfs, { runtime, ref: 'bb:bench', config: { cmd: ['/bin/sh'] } })
    engine = await startPrivateDocker()
    await dockerImportBusybox(engine, 'bb:bench')
    const ctx = path.join(work, 'ctx')
    writeContext(ctx)
    const sides = {
      minicontainer: (noCache) => Image.build(ctx, { runtime, network: 'none', noCache }),
      BuildKit: (noCache) => docker(engine, dockerBuildWith, 'buildkit', ctx, noCache),
      classic: (noCache) => docker(engine, dockerBuildWith, 'classic', ctx, noCache),
    }
    // A peer like crun and bwrap in the start bench: its column stays empty where it is not installed.
    if (which('buildah')) {
      const buildah = await buildahWithBase(path.join(work, 'buildah'), rootfs)
      sides.buildah = (noCache) => buildah(['bud', '--layers', '--pull=never', '--network', 'none', ...(noCache ? ['--no-cache'] : []), '-t', 'mc-bench-build:buildah', ctx])
    } else console.log('buildah is not installed (apt-get install buildah): its column stays empty')
    const times = { cold: {}, unchanged: {}, 'one file changed': {} }
    for (const t of Object.values(times)) for (const side of Object.keys(sides)) t[side] = []
    for (let round = 0; round < ROUNDS; round++) {
      // Sides alternate their order per round, so none always meets the warmer page cache.
      const order = round % 2 ? Object.keys(sides).reverse() : Object.keys(sides)
      for (const side of order) times.cold[side].push(await timed(() => sides[side](true)))
      for (const side of order) times.unchanged[side].push(await timed(() => sides[side](false)))
      fs.writeFileSync(path.join(ctx, 'src', 'f0.txt'), `changed in round ${round}\n`)
      for (const side of order) times['one file changed'][side].push(await timed(() => sides[side](false)))
    }
    console.log(`\n## Image.build against Docker 20.10 (private engine), two stages, 20 source files, RUN without network; p50 of ${ROUNDS} rounds`)
    row('case', 'minicontainer', 'BuildKit', 'classic', 'buildah', 'ours/BuildKit', 'ours/classic', 'ours/buildah')
    const ratio = (a, b) => (b === undefined ? 'n/a' : `${(a / b).toFixed(3)}x`)
    for (const [name, t] of Object.entries(times)) {
      const p = Object.fromEntries(Object.entries(t).map(([side, ms]) => [side, summarize(ms).p50]))
      row(name, fmt(p.minicontainer), fmt(p.BuildKit), fmt(p.classic), fmt(p.buildah), ratio(p.minicontainer, p.BuildKit), ratio(p.minicontainer, p.classic), ratio(p.minicontainer, p.buildah))
    }
  } finally {
    await engine?.stop()
    if (which('buildah')) await buildahCli(path.join(work, 'buildah'), ['rmi', '--all', '--force']).catch(() => {})
    fs.rmSync(work, { recursive: true, force: true })
  }
}

async function docker(engine, dockerBuildWith, builder, ctx, noCache) {
  const r = await dockerBuildWith(engine, builder, ctx, `mc-bench-build:${builder}`, ['--network', 'none', ...(noCache ? ['--no-cache'] : [])])
  if (r.code !== 0) throw new Error(`docker build (${builder}) failed:\n${r.output}`)
}

/** Debian's buildah on a private root (vfs: no mounts left behind; runc: crun refuses this host's hybrid cgroups), with the busybox rootfs committed as bb:bench. */
async function buildahWithBase(dir, rootfs) {
  const ctr = await buildahCli(dir, ['from', 'scratch'])
  await buildahCli(dir, ['copy', ctr, `${rootfs}/`, '/'])
  await buildahCli(dir, ['config', '--cmd', '/bin/sh', ctr])
  await buildahCli(dir, ['commit', '-q', '--rm', ctr, 'bb:bench'])
  return (args) => buildahCli(dir, args)
}

function buildahCli(dir, args) {
  const global = ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'run'), '--storage-driver', 'vfs']
  const runtimeFlag = args[0] === 'bud' ? ['--runtime', 'runc'] : []
  return new Promise((resolve, reject) =>
    execFile('buildah', [...global, args[0], ...runtimeFlag, ...args.slice(1)], { maxBuffer: 64 << 20, timeout: 300_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`buildah ${args.join(' ')} failed: ${err.message}\n${stderr}`)) : resolve(stdout.trim()),
    ),
  )
}

async function timed(fn) {
  const t0 = now()
  await fn()
  return now() - t0
}
