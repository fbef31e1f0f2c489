/**
 * forListeningPorts' probe (lib/harness/namespace-listeners.ts): a sock_diag
 * dump of LISTEN sockets, on a socket opened in the namespace of a pid. The
 * peer is a node process in a network namespace of its own (`unshare -n`,
 * loopback up), told over stdin when to listen, connect and close; this
 * process, in the host's namespace, listens on ports of its own.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import * as net from 'node:net'
import * as readline from 'node:readline'
import { NamespaceListeners } from '../../lib/harness/namespace-listeners'
import { listeningTcpPorts } from '../../lib/harness/proc-net'
import { waitUntilReady } from '../../lib/harness/wait-until-ready'
import { Wait } from '../../lib/harness/wait'
import type { WaitTarget } from '../../lib/harness/target'

// Commands: ["listen", port, host, ipv6Only?], ["connect", port, host], ["close", port]; answers "ok <port>".
const peerScript = `
const net = require('node:net'), rl = require('node:readline').createInterface({ input: process.stdin })
const servers = new Map(), clients = []
rl.on('line', (line) => {
  const [cmd, port, host, v6only] = JSON.parse(line)
  const ok = (p) => process.stdout.write('ok ' + p + '\\n')
  if (cmd === 'listen') { const s = net.createServer((c) => clients.push(c)); s.listen({ port, host, ipv6Only: !!v6only }, () => (servers.set(s.address().port, s), ok(s.address().port))) }
  if (cmd === 'connect') { const c = net.connect(port, host, () => ok(c.localPort)); clients.push(c) }
  if (cmd === 'close') { for (const c of clients) c.destroy(); clients.length = 0; servers.get(port).close(() => ok(port)) }
})
rl.on('close', () => process.exit(0))
process.stdout.write('ready\\n')
`

/** A node process in a fresh network namespace, driven line by line. */
class Peer {
  readonly child: ChildProcess
  private readonly answers: string[] = []
  private waiter: (() => void) | undefined

  /** @param late - the peer waits in the host's namespace for a line "go" on stdin, then moves to its own. */
  constructor(late = false) {
    const inOwn = ['unshare', '-n', 'sh', '-c', `ip link set lo up && exec ${process.execPath} -e "$0"`, peerScript]
    const argv = late ? ['sh', '-c', 'read go && exec "$@"', 'late-peer', ...inOwn] : inOwn
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] })
    readline.createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.answers.push(line)
      this.waiter?.()
    })
    this.child.once('exit', () => this.waiter?.())
  }

  go(): void {
    this.child.stdin!.write('go\n')
  }

  get pid(): number {
    return this.child.pid!
  }

  /** The next line the peer writes. */
  async next(): Promise<string> {
    while (this.answers.length === 0) {
      if (this.child.exitCode !== null) throw new Error(`the peer exited with ${this.child.exitCode}`)
      await new Promise<void>((resolve) => (this.waiter = resolve))
    }
    return this.answers.shift()!
  }

  /** Sends a command; resolves with the port its "ok" names. */
  async ask(cmd: [string, number, string?, boolean?]): Promise<number> {
    this.child.stdin!.write(JSON.stringify(cmd) + '\n')
    const answer = await this.next()
    if (!answer.startsWith('ok ')) throw new Error(`peer answered ${answer}`)
    return Number(answer.slice(3))
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return
    const exited = new Promise((r) => this.child.once('exit', r))
    this.child.stdin!.end()
    await exited
  }
}

/** The wait strategies' view of a process: its pid, no logs, never exits. */
function processTarget(pid: number): WaitTarget {
  return {
    id: 'p'.repeat(64),
    name: `pid ${pid}`,
    runningPid: () => pid,
    exited: () => new Promise(() => {}),
    logLines: async function* (signal) {
      await new Promise((r) => signal.addEventListener('abort', r, { once: true }))
    },
    lastLogLines: () => [],
    tcpPorts: () => [],
    endpoint: (port) => ({ host: '127.0.0.1', port }),
    exec: () => Promise.reject(new Error('no exec')),
    health: () => undefined,
    watchHealth: () => () => {},
  }
}

let peer: Peer
let listeners: NamespaceListeners
beforeEach(async () => {
  peer = new Peer()
  expect(await peer.next()).toBe('ready')
  listeners = new NamespaceListeners()
})
afterEach(async () => {
  listeners.close()
  await peer.stop()
})

/** A listener of this process, in the host's namespace, on a port the kernel picks. */
async function hostListener(): Promise<net.Server> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  return s
}

test("a port listening in another namespace does not count; the peer's own listener does, read by sock_diag", async () => {
  const host = await hostListener()
  try {
    const port = (host.address() as net.AddressInfo).port
    expect(listeners.ports(peer.pid).has(port)).toBe(false)
    expect(listeners.source).toBe('sock_diag')
    await peer.ask(['listen', port, '127.0.0.1'])
    expect(listeners.ports(peer.pid)).toEqual(new Set([port]))
    // The same object follows another pid into that pid's namespace: the host's listener is there.
    expect(listeners.ports(process.pid).has(port)).toBe(true)
    expect(listeners.source).toBe('sock_diag')
  } finally {
    host.close()
  }
})

test('only LISTEN sockets count: not the established ends of a connection; IPv6-only listeners count; a closed one is gone', async () => {
  const port = await peer.ask(['listen', 0, '127.0.0.1'])
  const clientPort = await peer.ask(['connect', port, '127.0.0.1'])
  const v6 = await peer.ask(['listen', 0, '::1', true])
  // The kernel's own view, as /proc shows it, agrees (it holds both established ends too).
  expect(listeningTcpPorts(peer.pid)).toEqual(new Set([port, v6]))
  expect(listeners.ports(peer.pid)).toEqual(new Set([port, v6]))
  expect(listeners.ports(peer.pid).has(clientPort)).toBe(false)
  await peer.ask(['close', port])
  expect(listeners.ports(peer.pid)).toEqual(new Set([v6]))
  expect(listeners.source).toBe('sock_diag')
})

test('forListeningPorts: a program that listens late is not reported early, and is once it listens', async () => {
  const port = 20000 + (peer.pid % 20000)
  const other = await peer.ask(['listen', 0, '0.0.0.0'])
  // Another port listening is not this one: still waiting when the deadline passes.
  await expect(waitUntilReady(processTarget(peer.pid), Wait.forListeningPorts([port]), { timeout: 300 })).rejects.toMatchObject({ code: 'ETIMEOUT' })
  let told = false
  const ready = waitUntilReady(processTarget(peer.pid), Wait.forListeningPorts([port, other]), { timeout: 30_000 }).then(() => told)
  await new Promise((r) => setTimeout(r, 200))
  told = true
  await peer.ask(['listen', port, '0.0.0.0'])
  expect(await ready).toBe(true)
})

test('a process that moves to another namespace is followed there', async () => {
  const late = new Peer(true)
  try {
    const host = await hostListener()
    const hostPort = (host.address() as net.AddressInfo).port
    // Still in the host's namespace: this process's listener is seen through it.
    expect(listeners.ports(late.pid).has(hostPort)).toBe(true)
    host.close()
    late.go()
    expect(await late.next()).toBe('ready')
    const port = await late.ask(['listen', 0, '0.0.0.0'])
    expect(listeners.ports(late.pid)).toEqual(new Set([port]))
    expect(listeners.source).toBe('sock_diag')
  } finally {
    await late.stop()
  }
})
