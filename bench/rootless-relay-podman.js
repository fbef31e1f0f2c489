#!/usr/bin/env node
// Rootless published ports: minicontainer's relay (mc-shim relay) against podman's rootlessport, into the
// same container, interleaved round by round (run as root; needs podman, slirp4netns, python3):
//   node bench/rootless-relay-podman.js [rounds]
// As a user made for the run (the tests' makeUnprivilegedUser, removed at the end; given /dev/net/tun
// through an ACL entry for slirp4netns, test/tools/tun-grant.ts), rootless podman runs a busybox
// container (runc, slirp4netns with port_handler=rootlesskit: rootlessport) publishing an echo server
// (nc -e cat) and a sink (cat > /dev/null) on 127.0.0.1. Our relays (lib/network/port-relay.ts, from the
// sources) join the same container's network namespace and reach the same servers. Per round, both
// paths in alternating order: 64-byte TCP_NODELAY round trips (p50 of BENCH_RTT_N) and the throughput
// of BENCH_SINK_MB sent to the sink. Also what a relay costs: startPortRelay() latency and its RSS,
// beside rootlessport's RSS. Traffic goes only to loopback and the container.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const repo = path.resolve(__dirname, '..')
require(path.join(repo, 'test/tools/ts-register.js'))
const { makeUnprivilegedUser } = require(path.join(repo, 'test/tools/unprivileged-user.ts'))
const { grantTun } = require(path.join(repo, 'test/tools/tun-grant.ts'))
const { busyboxRootfs, row } = require('./stats')
const { rttClient } = require('./rootless-relay')

const ROUNDS = Number(process.argv[2] ?? 9)
const RTT_N = Number(process.env.BENCH_RTT_N ?? 3000)
const SINK_MB = Number(process.env.BENCH_SINK_MB ?? 512)

// Gbit/s of MB mebibytes sent, counted until the sink closed (it has read everything).
const sinkClient = `import socket, sys, time
mb = int(sys.argv[2]); s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
chunk = b'x' * (1 << 20); t = time.perf_counter()
for i in range(mb): s.sendall(chunk)
s.shutdown(socket.SHUT_WR)
while s.recv(65536): pass
print(mb * 8 * (1 << 20) / (time.perf_counter() - t) / 1e9)`

const userScript = (tar) => `;(async () => {
  const { execFileSync } = require('node:child_process')
  const fs = require('node:fs')
  const { startPortRelay } = lib('network/port-relay')
  const podman = (...args) => execFileSync('podman', ['--runtime', 'runc', ...args], { encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: '' } }).trim()
  const py = (src, ...args) => Number(execFileSync('/usr/bin/python3', ['-c', src, ...args.map(String)], { encoding: 'utf8', timeout: 120000 }))
  const rss = (pid) => Number(/VmRSS:\\s+(\\d+)/.exec(fs.readFileSync('/proc/' + pid + '/status', 'utf8'))[1])
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  podman('import', ${JSON.stringify(tar)}, 'localhost/rlbench:latest')
  const free = () => new Promise((res) => { const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)) }) })
  const [pEcho, pSink] = [await free(), await free()]
  const id = podman('run', '-d', '--network', 'slirp4netns:port_handler=rootlesskit', '-p', '127.0.0.1:' + pEcho + ':7000', '-p', '127.0.0.1:' + pSink + ':5201', 'localhost/rlbench:latest',
    'sh', '-c', 'nc -ll -p 7000 -e cat & nc -ll -p 5201 -e sh -c "cat >/dev/null" & wait')
  const out = {}
  const relays = []
  try {
    const pid = podman('inspect', '-f', '{{.State.Pid}}', id)
    const netnsPath = '/proc/' + pid + '/ns/net'
    const starts = []
    for (let i = 0; i < 21; i++) {
      const t = process.hrtime.bigint()
      const r = await startPortRelay({ netnsPath, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0, targetIp: '127.0.0.1', targetPort: 7000 })
      starts.push(Number(process.hrtime.bigint() - t) / 1e6)
      relays.push(r)
    }
    out.relayStartMs = median(starts)
    out.relayRssKb = median(relays.map((r) => rss(r.pid)))
    const sinkRelay = await startPortRelay({ netnsPath, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0, targetIp: '127.0.0.1', targetPort: 5201 })
    relays.push(sinkRelay)
    const rootlessport = fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).filter((p) => { try { return fs.statSync('/proc/' + p).uid === process.getuid() && fs.readFileSync('/proc/' + p + '/comm', 'utf8').startsWith('rootlessport') } catch { return false } })
    out.rootlessportProcesses = rootlessport.length
    out.rootlessportRssKb = rootlessport.map(rss)
    const paths = { relay: [relays[0].hostPort, sinkRelay.hostPort], rootlessport: [pEcho, pSink] }
    for (let i = 0; i < 50; i++) { try { py(${JSON.stringify(rttClient)}, pEcho, 10); break } catch { await new Promise((r) => setTimeout(r, 200)) } }
    const rtt = { relay: [], rootlessport: [] }, gbit = { relay: [], rootlessport: [] }
    for (let round = 0; round < ${ROUNDS}; round++) {
      const order = round % 2 ? ['rootlessport', 'relay'] : ['relay', 'rootlessport']
      for (const name of order) {
        rtt[name].push(py(${JSON.stringify(rttClient)}, paths[name][0], ${RTT_N}))
        gbit[name].push(py(${JSON.stringify(sinkClient)}, paths[name][1], ${SINK_MB}))
      }
    }
    out.rtt = rtt
    out.gbit = gbit
  } finally {
    await Promise.all(relays.map((r) => r.close()))
    podman('rm', '-f', id)
    execFileSync('podman', ['system', 'reset', '--force'], { stdio: 'ignore', env: { ...process.env, XDG_RUNTIME_DIR: '' } })
  }
  console.log(JSON.stringify(out))
})().catch((e) => { console.error(e); process.exit(1) })`

function main() {
  const user = makeUnprivilegedUser()
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-bench-rlport-'))
  const ungrant = grantTun('/dev/net/tun', user.uid)
  try {
    fs.chownSync(home, user.uid, user.gid)
    const rootfs = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-bench-rlport-rootfs-'))
    busyboxRootfs(rootfs)
    const tar = path.join(home, 'rootfs.tar')
    execFileSync('tar', ['--numeric-owner', '-C', rootfs, '-cf', tar, '.'])
    fs.chmodSync(tar, 0o644)
    fs.rmSync(rootfs, { recursive: true })
    const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
    const stdout = execFileSync('runuser', ['-u', user.name, '--', 'env', '-i', 'PATH=/usr/local/bin:/usr/bin:/bin', `HOME=${home}`, `USER=${user.name}`, process.execPath, '-e', require(path.join(repo, 'test/tools/node-child.ts')).nodeScript(userScript(tar))], { cwd: '/', encoding: 'utf8', maxBuffer: 1 << 24 })
    const out = JSON.parse(stdout.trim().split('\n').pop())
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
    console.log(`\n## Rootless published ports: relay vs podman's rootlessport, same container, ${ROUNDS} interleaved rounds (load before: ${load}; after: ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})`)
    row('', 'relay', 'rootlessport')
    row(`64 B RTT p50 us (median of rounds)`, median(out.rtt.relay).toFixed(1), median(out.rtt.rootlessport).toFixed(1))
    row(`${SINK_MB} MiB to a sink, Gbit/s (median)`, median(out.gbit.relay).toFixed(2), median(out.gbit.rootlessport).toFixed(2))
    row('RSS per forwarder, kB', String(out.relayRssKb), `${out.rootlessportRssKb.join('+')} (${out.rootlessportProcesses} processes)`)
    row('relay start (startPortRelay), ms p50 of 21', out.relayStartMs.toFixed(2))
    console.log(JSON.stringify(out))
  } finally {
    ungrant()
    user.remove()
    fs.rmSync(home, { recursive: true, force: true })
    for (const dir of [`/tmp/podman-run-${user.uid}`, `/tmp/containers-user-${user.uid}`]) fs.rmSync(dir, { recursive: true, force: true })
  }
}

main()
