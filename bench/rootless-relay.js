// Rootless published ports ("proxy" mode): the relay (mc-shim relay, lib/network/port-relay.ts) against
// pasta's -t port forwarder and host loopback, in the same run. Both forwarders reach the same servers,
// on the loopback of a network namespace made here: iperf3 throughput (host -> namespace) and the p50 of
// 64-byte TCP_NODELAY round trips (a python3 client and echo server). Targets (design brief §8): relay
// RTT <= pasta's, relay throughput >= pasta's. Traffic goes only to loopback and that namespace.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawn, spawnSync } = require('node:child_process')

const dist = [path.resolve(__dirname, '..', 'dist'), path.resolve(__dirname, '..', '..', 'dist')].find((d) => fs.existsSync(path.join(d, 'index.js')))
const { startPortRelay } = require(path.join(dist, 'network', 'port-relay'))
const { pickFreePort } = require(path.join(dist, 'network', 'port-probe'))
const { row } = require(path.join(__dirname, 'stats'))

const SECONDS = Number(process.env.BENCH_IPERF_SECONDS ?? 3)
const ROUND_TRIPS = Number(process.env.BENCH_RTT_N ?? 5000)
const ROUNDS = Number(process.env.BENCH_RELAY_ROUNDS ?? 9)
const IPERF_PORT = 5201
const ECHO_PORT = 7000

const echoServer = `import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(64)
def serve(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        d = c.recv(65536)
        if not d: break
        c.sendall(d)
    c.close()
print('ready', flush=True)
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()`

// p50 in microseconds of ROUND_TRIPS 64-byte round trips, after 200 unmeasured ones.
const rttClient = `import socket, sys, time
n = int(sys.argv[2]); s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
m = b'x' * 64; ts = []
for i in range(n + 200):
    t = time.perf_counter_ns(); s.sendall(m); got = 0
    while got < 64: got += len(s.recv(64 - got))
    if i >= 200: ts.append(time.perf_counter_ns() - t)
ts.sort(); print(ts[len(ts) // 2] / 1000)`

/** Gbit/s; retried a few times, since under load the server may still be closing the last test ("the server is busy"). */
function iperf(port) {
  for (let attempt = 1; ; attempt++) {
    const out = JSON.parse(execFileSync('iperf3', ['-J', '-t', String(SECONDS), '-c', '127.0.0.1', '-p', String(port)], { encoding: 'utf8', timeout: (SECONDS + 20) * 1000 }))
    if (out.end?.sum_received) return out.end.sum_received.bits_per_second / 1e9
    if (attempt === 4) throw new Error(`iperf3: ${out.error}`)
    execFileSync('sleep', ['0.5'])
  }
}

const rtt = (port) => Number(execFileSync('python3', ['-c', rttClient, String(port), String(ROUND_TRIPS)], { encoding: 'utf8', timeout: 60_000 }))

/** Starts a server (in `ns` when given) and resolves once it listens on 127.0.0.1:port. */
async function server(ns, argv, port) {
  const full = ns ? ['ip', 'netns', 'exec', ns, ...argv] : argv
  const child = spawn(full[0], full.slice(1), { stdio: 'ignore' })
  for (let i = 0; i < 100; i++) {
    const probe = ns ? ['ip', 'netns', 'exec', ns, 'nc', '-z', '127.0.0.1', String(port)] : ['nc', '-z', '127.0.0.1', String(port)]
    if (spawnSync(probe[0], probe.slice(1)).status === 0) return child
    await new Promise((r) => setTimeout(r, 50))
  }
  child.kill()
  throw new Error(`${argv[0]} did not listen on ${port}`)
}

/** pasta attached to `ns`, forwarding host 127.0.0.1 ports to the namespace's (its spliced loopback path). */
async function startPasta(ns, forwards) {
  const pidFile = path.join(os.tmpdir(), `mc-bench-pasta-${process.pid}`)
  const args = ['--runas', '0', '-q', '-u', 'none', '-T', 'none', '-U', 'none', '-P', pidFile, '--netns', `/run/netns/${ns}`]
  for (const [host, inner] of forwards) args.push('-t', `127.0.0.1/${host}:${inner}`)
  execFileSync('pasta', args, { stdio: 'ignore', timeout: 10_000 }) // returns once pasta is ready, in the background
  const pid = Number(fs.readFileSync(pidFile, 'utf8'))
  fs.rmSync(pidFile, { force: true })
  return { close: () => process.kill(pid) }
}

module.exports = async function rootlessRelay() {
  console.log('\n## Rootless published ports: the relay vs pasta -t vs host loopback (same run)')
  for (const tool of ['iperf3', 'python3', 'pasta', 'nc']) if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`install ${tool === 'pasta' ? 'passt' : tool} for the relay benchmark`)
  const ns = `mcbench-relay-${process.pid}`
  execFileSync('ip', ['netns', 'add', ns])
  const cleanup = []
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
    const hostIperf = await pickFreePort('tcp', '127.0.0.1', () => false)
    const hostEcho = await pickFreePort('tcp', '127.0.0.1', () => false)
    for (const [where, ip, ep] of [[ns, IPERF_PORT, ECHO_PORT], [undefined, hostIperf, hostEcho]]) {
      const a = await server(where, ['iperf3', '-s', '-B', '127.0.0.1', '-p', String(ip)], ip)
      const b = await server(where, ['python3', '-c', echoServer, String(ep)], ep)
      cleanup.push(() => a.kill(), () => b.kill())
    }
    const netnsPath = `/run/netns/${ns}`
    const relayIperf = await startPortRelay({ netnsPath, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0, targetIp: '127.0.0.1', targetPort: IPERF_PORT })
    const relayEcho = await startPortRelay({ netnsPath, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0, targetIp: '127.0.0.1', targetPort: ECHO_PORT })
    cleanup.push(() => relayIperf.close(), () => relayEcho.close())
    const pastaIperf = await pickFreePort('tcp', '127.0.0.1', () => false)
    const pastaEcho = await pickFreePort('tcp', '127.0.0.1', (p) => p === pastaIperf)
    const pasta = await startPasta(ns, [[pastaIperf, IPERF_PORT], [pastaEcho, ECHO_PORT]])
    cleanup.push(() => pasta.close())
    const paths = { relay: [relayIperf.hostPort, relayEcho.hostPort], 'pasta -t': [pastaIperf, pastaEcho], 'host loopback': [hostIperf, hostEcho] }
    const gbit = Object.fromEntries(Object.keys(paths).map((k) => [k, []]))
    const us = Object.fromEntries(Object.keys(paths).map((k) => [k, []]))
    // Interleaved rounds, the order reversed every other round: load from other work on the machine falls
    // on every path alike; medians, not bests, since a loaded machine's best is luck.
    const load0 = os.loadavg()[0]
    for (let round = 0; round < ROUNDS; round++)
      for (const [name, [tp, ep]] of round % 2 ? Object.entries(paths).reverse() : Object.entries(paths)) {
        gbit[name].push(iperf(tp))
        us[name].push(rtt(ep))
      }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
    console.log(`  ${ROUNDS} interleaved rounds of iperf3 -t ${SECONDS} and ${ROUND_TRIPS} round trips; load ${load0.toFixed(2)} -> ${os.loadavg()[0].toFixed(2)}`)
    row('', ...Object.keys(paths))
    row(`iperf3 Gbit/s (median of ${ROUNDS})`, ...Object.values(gbit).map((g) => median(g).toFixed(2)))
    row(`64 B RTT p50 us (median of ${ROUNDS})`, ...Object.values(us).map((u) => median(u).toFixed(1)))
    row('relay/pasta Gbit/s (target >= 1)', (median(gbit.relay) / median(gbit['pasta -t'])).toFixed(2))
    row('relay/pasta RTT (target <= 1)', (median(us.relay) / median(us['pasta -t'])).toFixed(2))
  } finally {
    for (const c of cleanup.reverse()) await Promise.resolve(c()).catch(() => {})
    execFileSync('ip', ['netns', 'del', ns])
  }
}

/** The 64-byte round-trip client's python source (argv: port, count), for the other relay benches. */
module.exports.rttClient = rttClient
