// The peer of the harness bench: testcontainers-node driving a private Docker engine
// (test/tools/docker-engine.ts: dockerd in its own namespaces, so its iptables rules never touch the
// host) with one image made by `docker import` from the host's own redis-server, nginx and busybox
// and the libraries they load, so nothing is downloaded. Returns { skipped } when it cannot run.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, execFile } = require('node:child_process')
const { summarize } = require('./stats')

const repo = path.resolve(__dirname, '..')
const helper = path.join(repo, 'test', 'tools', 'docker-engine.ts')
const image = 'mc-bench-services:latest'
const programs = ['/usr/bin/redis-server', '/usr/sbin/nginx']
const busyboxApplets = ['sh', 'cat', 'awk', 'grep', 'nc', 'true', 'test', 'sleep']

/** Why the Docker row cannot run here, or undefined. */
function unavailable() {
  if (!fs.existsSync(helper)) return 'the private Docker engine helper (test/tools/docker-engine.ts) is not in this tree'
  try {
    require.resolve('testcontainers', { paths: [repo] })
  } catch {
    return 'testcontainers is not installed: it is a devDependency (npm install in the repository; 11.x, as 12.x needs Node 22)'
  }
  for (const p of [...programs, '/bin/busybox']) if (!fs.existsSync(p)) return `${p} is not installed`
  return undefined
}

/** Shared libraries a program loads, from ldd (a peer tool, like tar and docker). */
function libraries(program) {
  const out = execFileSync('ldd', [program], { encoding: 'utf8' })
  return [...out.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1])
}

/** A root filesystem with the host's redis-server, nginx, busybox and their libraries, as a tar. */
function rootfsTar(work) {
  const root = path.join(work, 'rootfs')
  const copy = (file) => {
    const real = fs.realpathSync(file)
    for (const p of new Set([file, real])) {
      fs.mkdirSync(path.join(root, path.dirname(p)), { recursive: true })
      if (!fs.existsSync(path.join(root, p))) fs.copyFileSync(real, path.join(root, p))
    }
  }
  for (const p of programs) {
    copy(p)
    for (const lib of libraries(p)) copy(lib)
  }
  copy('/bin/busybox')
  for (const a of busyboxApplets) fs.symlinkSync('busybox', path.join(root, 'bin', a))
  for (const d of ['tmp', 'etc', 'var/lib/nginx', 'var/log/nginx', 'run']) fs.mkdirSync(path.join(root, d), { recursive: true, mode: 0o1777 })
  fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nwww-data:x:33:33:www-data:/var/www:/bin/false\n')
  fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\nwww-data:x:33:\n')
  const tar = path.join(work, 'rootfs.tar')
  execFileSync('tar', ['-C', root, '-cf', tar, '.'])
  return tar
}

function runPeer(engine, args) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, DOCKER_HOST: `unix://${engine.socket}`, TESTCONTAINERS_RYUK_DISABLED: 'true' }
    const argv = [`--net=${engine.netns}`, '--', process.execPath, path.join(__dirname, 'testcontainers-run.js'), JSON.stringify(args)]
    execFile('nsenter', argv, { env, cwd: repo, timeout: 600_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`testcontainers run failed: ${err.message}\n${stderr}`))
      else resolve(JSON.parse(stdout.trim().split('\n').pop()))
    })
  })
}

/** Times testcontainers on Docker, or says why it cannot. */
async function measure(opts) {
  const reason = unavailable()
  if (reason) return { skipped: reason }
  require(path.join(repo, 'test', 'tools', 'ts-register.js'))
  const { startPrivateDocker } = require(helper)
  let engine
  try {
    engine = await startPrivateDocker()
  } catch (err) {
    return { skipped: `no Docker engine can run here: ${err.message.split('\n')[0]}` }
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-bench-tc-'))
  try {
    await engine.ok(['import', rootfsTar(work), image], { timeoutMs: 120_000 })
    const ms = await runPeer(engine, { image, rounds: opts.rounds, redisArgs: opts.redisArgs, nginxConf: opts.nginxConf, nginxArgs: opts.nginxArgs })
    return { redis: summarize(ms.redis), nginx: summarize(ms.nginx) }
  } finally {
    await engine.stop()
    fs.rmSync(work, { recursive: true, force: true })
  }
}

module.exports = { measure, rootfsTar }
