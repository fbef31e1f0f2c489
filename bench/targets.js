// `npm run bench targets`: issue 20's targets beyond the start itself, each against its peer in the
// same run, rounds interleaved so that both see the same load (printed beside every table):
//   exec of /bin/true into a running container        vs `crun exec` (target <= 0.5x)
//   redis-server ready on a published port             vs `docker run` until PING (targets <= 25 ms p50, <= 0.08x)
//   a start on the default bridge                      vs network 'none' (target <= 1 ms more)
// BENCH_TARGETS=bridge (a comma list of exec, bridge, redis): only those sections.
// The Docker row uses the host's engine or a private one (bench/docker.js); it is skipped, with the
// reason printed, when none can run. Traffic goes only to loopback and to our containers.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync, execFile } = require('node:child_process')
const { run, Image } = require('../dist')
const { summarize, fmt, row, now, busyboxRootfs, startToExit, which, ociBundle } = require('./stats')
const { redisReady, redisArgs } = require('./harness')
const { rootfsTar } = require('./testcontainers-peer')
const { dockerEngine } = require('./docker')

const N = Number(process.env.BENCH_N ?? 100)
const ROUNDS = 5
const REDIS_ROUNDS = Number(process.env.BENCH_REDIS_ROUNDS ?? 10)

const load = () => os.loadavg()[0].toFixed(2)

/** n execs of /bin/true into a running busybox container; the samples. */
async function ourExecs(runtime, n) {
  const c = await run('bench-bb', ['sleep', '1000'], { runtime, network: 'none' })
  try {
    const ms = []
    for (let i = 0; i < n; i++) {
      const t0 = now()
      const r = await c.exec(['/bin/true'])
      ms.push(now() - t0)
      if (r.exitCode !== 0) throw new Error(`exec /bin/true exited ${r.exitCode}`)
    }
    return ms
  } finally {
    await c.remove({ force: true })
  }
}

/**
 * n `crun exec <ctr> /bin/true` (timed by spawn-loop.js) into a container `crun run --detach` started
 * for them, in a mount namespace with a private empty /sys/fs/cgroup (crun 1.8 refuses this host's
 * hybrid layout; cgroups are off for crun here, as in the start section). Returns {ms} or {error}.
 */
function crunExecs(bundle, state, n) {
  const crun = `crun --cgroup-manager=disabled --root ${state}`
  const loop = `${process.execPath} ${path.join(__dirname, 'spawn-loop.js')} ${n} crun --cgroup-manager=disabled --root ${state} exec mcb-exec /bin/true`
  const script = `mount -t tmpfs none /sys/fs/cgroup && ${crun} run --detach --bundle ${bundle} mcb-exec </dev/null >/dev/null 2>&1 || exit 1
${loop}; rc=$?
${crun} kill mcb-exec KILL 2>/dev/null; ${crun} delete -f mcb-exec >/dev/null 2>&1
exit $rc`
  const out = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { encoding: 'utf8' })
  return JSON.parse(out.stdout.trim().split('\n').pop() || `{"error":"crun run --detach failed: ${(out.stderr || '').trim().split('\n')[0]}"}`)
}

async function execSection(runtime, work, rootfs) {
  const per = Math.ceil(N / ROUNDS)
  let crunError = which('crun') ? undefined : 'not installed (apt-get install crun)'
  const bundle = path.join(work, 'crun-exec')
  if (!crunError) ociBundle(bundle, rootfs, 'crun', ['/bin/sleep', '1000'])
  const ours = []
  const theirs = []
  const load0 = load()
  for (let round = 0; round < ROUNDS; round++) {
    ours.push(...(await ourExecs(runtime, per)))
    if (crunError) continue
    const r = crunExecs(bundle, path.join(work, 'crun-state'), per)
    if (r.error) crunError = r.error
    else theirs.push(...r.ms)
  }
  console.log(`\n## exec of /bin/true into a running container (busybox, net none; n=${N}, ${ROUNDS} interleaved rounds, load ${load0} -> ${load()})`)
  row('', 'p50', 'p95', 'ours / theirs')
  const mine = summarize(ours)
  row('minicontainer exec', fmt(mine.p50), fmt(mine.p95), '')
  if (crunError) row('crun exec', crunError)
  else {
    const c = summarize(theirs)
    row('crun exec', fmt(c.p50), fmt(c.p95), `${(mine.p50 / c.p50).toFixed(2)}x (target <= 0.50x)`)
  }
}

/** One `docker run` of redis until PING, timed in the engine's network namespace (docker-redis-run.js). */
function dockerRedis(engine, image) {
  const child = [process.execPath, path.join(__dirname, 'docker-redis-run.js'), JSON.stringify({ image, redisArgs })]
  const argv = engine.netns ? ['nsenter', `--net=${engine.netns}`, '--', ...child] : child
  const env = engine.socket ? { ...process.env, DOCKER_HOST: `unix://${engine.socket}` } : process.env
  return new Promise((resolve) =>
    execFile(argv[0], argv.slice(1), { env, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) return resolve({ error: `${err.message.split('\n')[0]} ${stderr}`.trim() })
      resolve(JSON.parse(String(stdout).trim().split('\n').pop() || '{"error":"no output"}'))
    }),
  )
}

/** The Docker side of the redis row: an engine with the host's redis imported, or {skipped}. */
async function dockerForRedis(work) {
  if (!fs.existsSync('/usr/bin/redis-server')) return { skipped: 'redis-server is not installed on the host (apt-get install redis-server)' }
  const engine = await dockerEngine()
  if (engine.skipped) return engine
  try {
    const dir = path.join(work, 'docker-redis')
    fs.mkdirSync(dir)
    await engine.ok(['import', rootfsTar(dir), 'mc-bench-redis:latest'], { timeoutMs: 120_000 })
    return { engine, image: 'mc-bench-redis:latest' }
  } catch (err) {
    await engine.stop()
    return { skipped: `could not import the redis image into the ${engine.label}: ${err.message.split('\n')[0]}` }
  }
}

async function redisSection(runtime, work) {
  await Image.fromHost({ runtime })
  const docker = await dockerForRedis(work)
  const ours = []
  const theirs = []
  let dockerError = docker.skipped
  const load0 = load()
  try {
    await redisReady(runtime) // warm-up: the bridge and its table are made once per runtime
    if (!dockerError) await dockerRedis(docker.engine, docker.image)
    for (let i = 0; i < REDIS_ROUNDS; i++) {
      ours.push(await redisReady(runtime))
      if (dockerError) continue
      const r = await dockerRedis(docker.engine, docker.image)
      if (r.error) dockerError = r.error
      else theirs.push(r.ms)
    }
  } finally {
    if (docker.engine) {
      await docker.engine.ok(['rmi', '-f', docker.image]).catch(() => {})
      await docker.engine.stop()
    }
  }
  console.log(`\n## redis-server ready on a published port (host image, bridge; n=${REDIS_ROUNDS} interleaved, load ${load0} -> ${load()})`)
  row('', 'p50', 'p95', 'ours / theirs')
  const mine = summarize(ours)
  row('run() + Wait.forListeningPorts', fmt(mine.p50), fmt(mine.p95), '(target <= 25 ms)')
  if (dockerError) row(`docker run until PING`, `skipped: ${dockerError}`)
  else {
    const d = summarize(theirs)
    row(`docker run until PING (${docker.engine.label})`, fmt(d.p50), fmt(d.p95), `${(mine.p50 / d.p50).toFixed(3)}x (target <= 0.08x)`)
  }
}

async function bridgeSection(runtime) {
  const per = Math.ceil(N / ROUNDS)
  const none = []
  const bridge = []
  // Warm-up: the default bridge and its nf_tables table are made by the first bridge start.
  for (let i = 0; i < 5; i++) await startToExit(runtime, 'bench-bb', { rm: true, network: 'bridge' })
  const load0 = load()
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < per; i++) none.push(await startToExit(runtime, 'bench-bb', { rm: true }))
    for (let i = 0; i < per; i++) bridge.push(await startToExit(runtime, 'bench-bb', { rm: true, network: 'bridge' }))
  }
  console.log(`\n## A start on the default bridge vs network none: run() to observed exit of /bin/true, rm: true (n=${N} each, ${ROUNDS} interleaved rounds, load ${load0} -> ${load()})`)
  row('', 'p50', 'p95', 'bridge - none')
  const n = summarize(none)
  const b = summarize(bridge)
  row("network: 'none'", fmt(n.p50), fmt(n.p95), '')
  row('default bridge', fmt(b.p50), fmt(b.p95), `${fmt(b.p50 - n.p50)} (target <= 1 ms)`)
}

module.exports = async function targetsBench(runtime) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-bench-targets-'))
  try {
    const rootfs = path.join(work, 'rootfs')
    busyboxRootfs(rootfs)
    await Image.import(rootfs, { runtime, ref: 'bench-bb' })
    const only = process.env.BENCH_TARGETS?.split(',')
    const wanted = (name) => !only || only.includes(name)
    if (wanted('exec')) await execSection(runtime, work, rootfs)
    if (wanted('bridge')) await bridgeSection(runtime)
    if (wanted('redis')) await redisSection(runtime, work)
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
}
