/**
 * Published ports through a relay (mc-shim relay, "proxy" mode for rootless
 * runtimes): the host socket bound by Node, the relay in a network namespace
 * made here forwarding to servers on that namespace's loopback. Data both
 * ways, half-close in each direction, UDP flows and their idle timeout, and
 * the relay's end with its owner.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import * as crypto from 'node:crypto'
import * as dgram from 'node:dgram'
import * as fs from 'node:fs'
import * as net from 'node:net'
import * as os from 'node:os'
import { startPortRelay, type PortRelay } from '../../lib/network/port-relay'
import { MiniContainerError } from '../../lib/errors'
import { processRuns, sleep, timeScale } from '../helpers'
import { eventually } from './helpers'
import { nodeScript, spawnNode } from '../tools/node-child'
import { makeUnprivilegedUser, type UnprivilegedUser } from '../tools/unprivileged-user'

const ns = `mcrelay${process.pid % 100000}`
const netnsPath = `/run/netns/${ns}`
const servers: ChildProcess[] = []

beforeAll(() => {
  execFileSync('ip', ['netns', 'add', ns])
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
})
afterAll(() => {
  for (const s of servers) s.kill('SIGKILL')
  execFileSync('ip', ['netns', 'del', ns])
})

/** A python3 server on the namespace's 127.0.0.1:port; resolves once it listens. */
async function serveInNamespace(port: number, body: string): Promise<ChildProcess> {
  const code = `import socket, sys\nP = ${port}\n${body}`
  const child = spawn('ip', ['netns', 'exec', ns, 'python3', '-u', '-c', code], { stdio: ['ignore', 'pipe', 'inherit'] })
  servers.push(child)
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve())
    child.once('exit', (c) => reject(new Error(`server exited ${c}`)))
  })
  return child
}

const tcpServer = (handler: string): string => `s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', P)); s.listen(); print('ready')
while True:
    c, _ = s.accept()
${handler.replace(/^/gm, '    ')}
    c.close()`

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => resolve(s))
    s.once('error', reject)
  })
}

function readToEnd(s: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = []
  return new Promise((resolve, reject) => {
    s.on('data', (c: Buffer) => chunks.push(c))
    s.once('end', () => resolve(Buffer.concat(chunks)))
    s.once('error', reject)
  })
}

/** Whether a TCP port on the host's 127.0.0.1 can be bound (no one holds it). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer().once('error', () => resolve(false))
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => srv.close(() => resolve(true)))
  })
}

describe('TCP through the relay', () => {
  let relay: PortRelay
  afterEach(async () => relay?.close())

  it('carries a client\'s data to the server and the answer back after the client half-closed', async () => {
    // The server answers only once it read to EOF: the client's FIN must get through while the way back stays open.
    await serveInNamespace(17001, tcpServer(`d = b''
while True:
    b = c.recv(65536)
    if not b: break
    d += b
c.sendall(d[::-1])`))
    relay = await startPortRelay({ netnsPath, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0, targetIp: '127.0.0.1', targetPort: 17001 })
    const data = crypto.randomBytes(3 << 20)
    const s = await connect(relay.hostPort)
    const answer = readToEnd(s)
    s.end(data)
    expect((await answer).equals(Buffer.from(data).reverse())).toBe(true)
  })

  it('passes the server\'s half-close to the client while the client still sends', async () => {
    const server = await serveInNamespace(17002, tcpServer(`c.sendall(b'banner')
c.shutdown(socket.SHUT_WR)
n = 0
while True:
    b = c.recv(65536)
    if not b: break
    n += len(b)
print(n)`))
    relay = await startPortRelay({ netnsPath, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0, targetIp: '127.0.0.1', targetPort: 17002 })
    const s = await connect(relay.hostPort)
    s.setNoDelay(true)
    // python -u writes print()'s text and its newline separately: wait for the count's whole line.
    let out = ''
    const counted = new Promise<string>((resolve) =>
      server.stdout!.on('data', (d: Buffer) => {
        const line = /^(\d+)\n/m.exec((out += d.toString()))
        if (line) resolve(line[1]!)
      }),
    )
    expect((await readToEnd(s)).toString()).toBe('banner')
    s.end(Buffer.alloc(1 << 20, 7))
    expect(await counted).toBe(String(1 << 20))
  })

  it('ignores SIGPIPE, and survives servers that reset while a client uploads to them', async () => {
    // A splice into a socket the peer reset can fail with EPIPE, and the kernel sends SIGPIPE with it:
    // that killed the relay, every connection of the port and the port (seen in bench/rootless-relay.js
    // after 10 to 40 iperf3 -t 1 runs, strace: 'killed by SIGPIPE'). The race is too narrow to hit here
    // at will, so the disposition is checked, then resets in flight are shown to cost one connection each.
    await serveInNamespace(17003, `import struct, threading, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', P)); s.listen(64); print('ready')
def take(c):
    end = time.monotonic() + 0.1
    while time.monotonic() < end: c.recv(1 << 20)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=take, args=(c,), daemon=True).start()`)
    relay = await startPortRelay({ netnsPath, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0, targetIp: '127.0.0.1', targetPort: 17003 })
    const ignored = BigInt('0x' + /^SigIgn:\s+([0-9a-f]+)$/m.exec(fs.readFileSync(`/proc/${relay.pid}/status`, 'utf8'))![1])
    expect(ignored & (1n << BigInt(os.constants.signals.SIGPIPE - 1))).not.toBe(0n)
    const uploads = 20
    const client = `import socket, sys
chunk = b'x' * (1 << 20)
for i in range(${uploads}):
    s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
    try:
        while True: s.sendall(chunk)
    except OSError: s.close()
print('done')`
    let out = ''
    const child = spawn('python3', ['-c', client, String(relay.hostPort)], { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
    await new Promise((resolve) => child.once('exit', resolve))
    expect(out).toBe('done\n')
    expect(processRuns(relay.pid)).toBe(true)
  })

  it('resets the client when nothing listens behind the port', async () => {
    relay = await startPortRelay({ netnsPath, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0, targetIp: '127.0.0.1', targetPort: 17009 })
    // The reset may come before or after the client saw its connection accepted.
    const how = await new Promise<string>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: relay.hostPort })
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code!))
      s.once('end', () => resolve('end'))
    })
    expect(how).toBe('ECONNRESET')
  })
})

/** A UDP server on the namespace's 127.0.0.1:port answering each datagram with "echo:" and it. */
const udpEcho = (port: number): Promise<ChildProcess> =>
  serveInNamespace(port, `s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', P)); print('ready')
while True:
    d, a = s.recvfrom(65536)
    s.sendto(b'echo:' + d, a)`)

/** Sends `text` from a new socket of `family` to host:port and resolves with the answer and who sent it. */
async function askUdp(family: 'udp4' | 'udp6', host: string, port: number, text: string): Promise<{ text: string; from: string }> {
  const sock = dgram.createSocket(family)
  try {
    const reply = new Promise<{ text: string; from: string }>((resolve) => sock.once('message', (m, from) => resolve({ text: m.toString(), from: from.address })))
    sock.send(text, port, host)
    return await reply
  } finally {
    sock.close()
  }
}

describe('UDP through the relay', () => {
  it('gives each client its own flow, answers it, and closes flows that stay idle', async () => {
    await udpEcho(17003)
    const relay = await startPortRelay({ netnsPath, proto: 'udp', hostIp: '127.0.0.1', hostPort: 0, targetIp: '127.0.0.1', targetPort: 17003, udpIdleMs: 400 })
    const ask = async (text: string): Promise<string> => (await askUdp('udp4', '127.0.0.1', relay.hostPort, text)).text
    const flowsInNamespace = (): number => execFileSync('ip', ['netns', 'exec', ns, 'ss', '-Hun', 'state', 'established', 'dport', '= :17003'], { encoding: 'utf8' }).split('\n').filter(Boolean).length
    try {
      expect(await Promise.all([ask('one'), ask('two')])).toEqual(['echo:one', 'echo:two'])
      expect(flowsInNamespace()).toBe(2)
      expect(await eventually(() => flowsInNamespace() === 0, 3000 * timeScale)).toBe(true)
    } finally {
      await relay.close()
    }
  })

  it('on every address, answers clients of 0.0.0.0 and of [::] (two listeners, one port) each from the socket it asked', async () => {
    await udpEcho(17004)
    const relay = await startPortRelay({ netnsPath, proto: 'udp', hostIp: '', hostPort: 0, targetIp: '127.0.0.1', targetPort: 17004 })
    try {
      expect(await askUdp('udp6', '::1', relay.hostPort, 'six')).toEqual({ text: 'echo:six', from: '::1' })
      expect(await askUdp('udp4', '127.0.0.1', relay.hostPort, 'four')).toEqual({ text: 'echo:four', from: '127.0.0.1' })
    } finally {
      await relay.close()
    }
  })
})

describe('the relay\'s lifetime', () => {
  it('ends, freeing the host port, when closed', async () => {
    const relay = await startPortRelay({ netnsPath, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0, targetIp: '127.0.0.1', targetPort: 17001 })
    expect(await portFree(relay.hostPort)).toBe(false)
    await relay.close()
    expect(processRuns(relay.pid)).toBe(false)
    expect(await portFree(relay.hostPort)).toBe(true)
  })

  it('ends when its owner is killed', async () => {
    const owner = spawnNode(`
      const { startPortRelay } = lib('network/port-relay')
      startPortRelay({ netnsPath: ${JSON.stringify(netnsPath)}, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0, targetIp: '127.0.0.1', targetPort: 17001 })
        .then((r) => { console.log(JSON.stringify({ pid: r.pid, port: r.hostPort })); setInterval(() => {}, 1000) })
    `, { stdio: ['ignore', 'pipe', 'inherit'] })
    const { pid, port } = await new Promise<{ pid: number; port: number }>((resolve) => owner.stdout!.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()))))
    expect(processRuns(pid)).toBe(true)
    owner.kill('SIGKILL')
    expect(await eventually(() => !processRuns(pid), 3000 * timeScale)).toBe(true)
    expect(await portFree(port)).toBe(true)
  })
  it('ending with a link of its namespace but not outliving its owner (a rootless port), ends when its owner is killed, the link still there', async () => {
    const owner = spawnNode(`
      const { startPortRelay } = lib('network/port-relay')
      startPortRelay({ netnsPath: ${JSON.stringify(netnsPath)}, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0, targetIp: '127.0.0.1', targetPort: 17001, endWithLink: 'lo' })
        .then((r) => { console.log(JSON.stringify({ pid: r.pid, port: r.hostPort })); setInterval(() => {}, 1000) })
    `, { stdio: ['ignore', 'pipe', 'inherit'] })
    const { pid, port } = await new Promise<{ pid: number; port: number }>((resolve) => owner.stdout!.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()))))
    try {
      expect(processRuns(pid)).toBe(true)
      owner.kill('SIGKILL')
      expect(await eventually(() => !processRuns(pid), 3000 * timeScale)).toBe(true)
      expect(await portFree(port)).toBe(true)
    } finally {
      if (processRuns(pid)) process.kill(pid, 'SIGKILL')
    }
  })
})

describe('out of fds', () => {
  it('the relay stops accepting for a moment instead of spinning, and serves the waiting clients once fds are free', async () => {
    await serveInNamespace(17004, `import threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', P)); s.listen(128); print('ready')
def echo(c):
    while True:
        d = c.recv(65536)
        if not d: break
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=echo, args=(c,), daemon=True).start()`)
    // An owner whose hard fd limit the relay inherits: a few clients use up the relay's fds (6 each).
    const owner = spawn('prlimit', ['--nofile=64:64', process.execPath, '-e', nodeScript(`
      const { startPortRelay } = lib('network/port-relay')
      startPortRelay({ netnsPath: ${JSON.stringify(netnsPath)}, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0, targetIp: '127.0.0.1', targetPort: 17004 })
        .then((r) => { console.log(JSON.stringify({ pid: r.pid, port: r.hostPort })); setInterval(() => {}, 1000) })
    `)], { stdio: ['ignore', 'pipe', 'inherit'] })
    const clients: net.Socket[] = []
    try {
      const { pid, port } = await new Promise<{ pid: number; port: number }>((resolve) => owner.stdout!.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()))))
      for (let i = 0; i < 20; i++) clients.push(await connect(port))
      const echoes = (s: net.Socket): Promise<boolean> =>
        new Promise((resolve) => {
          const timer = setTimeout(() => resolve(false), 2000 * timeScale)
          s.once('data', () => (clearTimeout(timer), resolve(true)))
          s.write('x')
        })
      expect(await echoes(clients[0]!)).toBe(true)
      expect(await echoes(clients[19]!)).toBe(false) // still in the listener's backlog
      const cpu = (): number => fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ').slice(11, 13).reduce((a, b) => a + Number(b), 0)
      const before = cpu()
      await sleep(1000)
      expect(cpu() - before).toBeLessThan(30) // clock ticks (100/s): a spinning relay would use about 100
      for (const c of clients.splice(0, 15)) c.destroy() // more than the relay holds: every waiting client gets its turn
      expect(await echoes(clients[4]!)).toBe(true)
    } finally {
      clients.forEach((c) => c.destroy())
      owner.kill('SIGKILL')
    }
  })
})

describe('host ports', () => {
  it('EPORTINUSE when a host process holds the port', async () => {
    const holder = net.createServer()
    await new Promise<void>((r) => holder.listen({ host: '127.0.0.1', port: 0 }, r))
    const port = (holder.address() as net.AddressInfo).port
    try {
      const err = await startPortRelay({ netnsPath, proto: 'tcp', hostIp: '127.0.0.1', hostPort: port, targetIp: '127.0.0.1', targetPort: 17001 }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(MiniContainerError)
      expect(err).toMatchObject({ code: 'EPORTINUSE' })
    } finally {
      holder.close()
    }
  })

  describe('as an ordinary user', () => {
    let user: UnprivilegedUser
    beforeAll(() => (user = makeUnprivilegedUser()))
    afterAll(() => user?.remove())

    it('publishes a port of a network namespace in its own user namespace (the rootless case)', () => {
      const server = "import socket\ns = socket.socket(); s.bind(('127.0.0.1', 7000)); s.listen(); print('ready', flush=True)\nc, _ = s.accept()\nc.sendall(b'echo:' + c.recv(100)); c.close()"
      const r = user.node(`
        const { spawn } = require('node:child_process')
        const net = require('node:net')
        const { startPortRelay } = lib('network/port-relay')
        const holder = spawn('unshare', ['-Urn', 'sh', '-c', '/usr/sbin/ip link set lo up && exec python3 -c "$0"', ${JSON.stringify(server)}], { stdio: ['ignore', 'pipe', 'inherit'] })
        ;(async () => {
          await new Promise((r) => holder.stdout.once('data', r))
          const relay = await startPortRelay({ netnsPath: '/proc/' + holder.pid + '/ns/net', proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0, targetIp: '127.0.0.1', targetPort: 7000 })
          const answer = await new Promise((resolve, reject) => {
            const s = net.connect({ host: '127.0.0.1', port: relay.hostPort }, () => s.write('ping'))
            let got = ''
            s.on('data', (d) => (got += d)).on('end', () => resolve(got)).on('error', reject)
          })
          await relay.close()
          holder.kill('SIGKILL')
          console.log(JSON.stringify({ answer }))
        })().catch((e) => { holder.kill('SIGKILL'); console.error(e); process.exitCode = 1 })
      `)
      expect(r.stderr).toBe('')
      expect(JSON.parse(r.stdout)).toEqual({ answer: 'echo:ping' })
    })

    it('EPORTPRIVILEGED naming net.ipv4.ip_unprivileged_port_start for a port below it, TCP and UDP', () => {
      const start = Number(execFileSync('sysctl', ['-n', 'net.ipv4.ip_unprivileged_port_start'], { encoding: 'utf8' }))
      expect(start).toBeGreaterThan(80)
      const r = user.node(`
        const { startPortRelay } = lib('network/port-relay')
        ;(async () => {
          const out = []
          for (const proto of ['tcp', 'udp']) {
            const e = await startPortRelay({ netnsPath: '/proc/self/ns/net', proto, hostIp: '127.0.0.1', hostPort: 80, targetIp: '127.0.0.1', targetPort: 80 }).catch((e) => e)
            out.push({ code: e.code, message: e.message })
          }
          console.log(JSON.stringify(out))
        })()
      `)
      expect(r.stderr).toBe('')
      const out = JSON.parse(r.stdout) as Array<{ code: string; message: string }>
      for (const e of out) {
        expect(e.code).toBe('EPORTPRIVILEGED')
        expect(e.message).toContain('net.ipv4.ip_unprivileged_port_start')
        expect(e.message).toContain(String(start))
      }
    })
  })
})
