/**
 * Test fixtures for the network layer: throw-away runtime roots, network
 * namespaces standing in for containers, commands run inside them, and
 * observers (`ip`, `nft`) to check that nothing is left behind.
 *
 * Traffic only ever goes to loopback and to namespaces made here.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Container, Image, Runtime } from '../../lib'
import { hostHasIpv6 } from '../../lib/network/port-probe'
import { closeQuietly } from '../../lib/sys/libc'
import { createNetns } from '../../lib/sys/netns'

/** A fresh runtime root. */
export function makeRoot(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'mc-net-'))
}

/**
 * A runtime for one test file whose default bridge takes `subnet` (claimed with useSubnets), with the
 * host image: made before its tests, and after them its containers removed, the runtime closed and
 * its root deleted, then checked to have left no bridge, veth or nf_tables table. `use` receives it.
 */
export function useBridgeRuntime(subnet: string, use: (runtime: Runtime) => void): void {
  let runtime: Runtime
  beforeAll(async () => {
    runtime = new Runtime({ root: makeRoot(), subnetPool: [subnet] })
    await Image.fromHost({ runtime })
    use(runtime)
  })
  afterAll(async () => {
    for (const c of await Container.list({ runtime, all: true })) await c.remove({ force: true }).catch(() => {})
    const names = runtime.networks.names
    await runtime.close()
    fs.rmSync(runtime.root, { recursive: true, force: true })
    expect(hostLinks(names.bridgePrefix)).toEqual([])
    expect(hostLinks(names.vethPrefix)).toEqual([])
    expect(nftTables()).not.toContain(`table ip ${names.table}`)
  })
}

/** A network namespace standing in for a container: an fd plus helpers to run things in it. */
export class TestNetns {
  readonly fd = createNetns()
  private readonly children: ChildProcess[] = []

  /** Path through which other processes can enter the namespace. */
  get path(): string {
    return `/proc/${process.pid}/fd/${this.fd}`
  }

  private argv(cmd: string[]): string[] {
    return [`--net=${this.path}`, '--', ...cmd]
  }

  /** Runs a command inside, synchronously; returns stdout. Throws on non-zero exit. */
  run(cmd: string[], timeoutMs = 10000): string {
    return execFileSync('nsenter', this.argv(cmd), { timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] }).toString()
  }

  /**
   * Runs a command inside; resolves with its exit status and output. A
   * command that cannot run (nsenter or the tool missing, killed by the
   * timeout) rejects: only a real exit status is an outcome.
   */
  runAsync(cmd: string[], timeoutMs = 10000): Promise<{ code: number; stdout: string }> {
    return new Promise((resolve, reject) => {
      execFile('nsenter', this.argv(cmd), { timeout: timeoutMs }, (err, stdout) => {
        try {
          resolve({ code: err ? exitStatus(err, cmd) : 0, stdout: String(stdout) })
        } catch (failure) {
          reject(failure)
        }
      })
    })
  }

  /** Whether one ping to `ip` is answered within a second (ping's status 1); any other failure throws. */
  ping(ip: string): boolean {
    try {
      this.run(['ping', '-c', '1', '-W', '1', ip])
      return true
    } catch (err) {
      if (exitStatus(err, ['ping']) === 1) return false
      throw err
    }
  }

  /**
   * Starts a small server inside that answers each TCP connection (or UDP
   * datagram) with `<tag> <peer address>` and resolves when it listens.
   */
  async serve(proto: 'tcp' | 'udp', port: number, tag: string, host = '0.0.0.0'): Promise<void> {
    const code =
      proto === 'tcp'
        ? `require('net').createServer(s=>{s.end('${tag} '+s.remoteAddress.replace('::ffff:','')+'\\n')}).listen(${port},'${host}',()=>console.log('ready'))`
        : `const d=require('dgram').createSocket('udp4');d.on('message',(m,r)=>d.send('${tag} '+r.address+'\\n',r.port,r.address));d.bind(${port},'${host}',()=>console.log('ready'))`
    const child = spawn('nsenter', this.argv([process.execPath, '-e', code]), { stdio: ['ignore', 'pipe', 'inherit'] })
    this.children.push(child)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('server did not start')), 10000)
      child.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) {
          clearTimeout(timer)
          resolve()
        }
      })
      child.once('exit', (c) => reject(new Error(`server exited with ${c}`)))
    })
  }

  /** Stops servers and drops the namespace (its interfaces, veth peers included, go with it). */
  close(): void {
    for (const c of this.children) c.kill('SIGKILL')
    closeQuietly(this.fd)
  }
}

/**
 * The exit status of a tool that ran and failed; throws when it could not
 * run at all (missing: ENOENT or status 126/127 through nsenter/sh; killed
 * by a timeout), so a negative check never passes because a tool is absent.
 */
export function exitStatus(err: unknown, cmd: string[]): number {
  const e = err as { code?: unknown; status?: unknown; signal?: unknown; message?: string }
  const status = typeof e.status === 'number' ? e.status : typeof e.code === 'number' ? e.code : undefined
  if (status === undefined || status === 126 || status === 127 || e.signal)
    throw new Error(`${cmd.join(' ')} could not run (${e.signal ? `killed by ${String(e.signal)}` : String(e.code ?? status)}); is the tool installed? ${e.message ?? ''}`)
  return status
}

/** Runs nc on the host; "" when nc reports that nothing answered (status 1), throws when nc cannot run. */
function nc(args: string[], input: string): string {
  try {
    return execFileSync('nc', args, { timeout: 5000, input, stdio: ['pipe', 'pipe', 'ignore'] }).toString().trim()
  } catch (err) {
    if (exitStatus(err, ['nc', ...args]) === 1) return ''
    throw err
  }
}

/** Fetches one line from a TCP server (nc on the host); "" when nothing answers. */
export function tcpFetch(ip: string, port: number): string {
  return nc(['-w', '2', ip, String(port)], '')
}

/** Sends one UDP datagram from the host and returns the first answer line; "" when none. */
export function udpFetch(ip: string, port: number): string {
  return nc(['-u', '-w', '1', ip, String(port)], 'x')
}

/** How inspect lists a port published on every address: 0.0.0.0, and `::` where the host has IPv6 (Docker 20.10's two entries). */
export function onEveryAddress(port: number): Array<{ hostIp: string; hostPort: string }> {
  return [{ hostIp: '0.0.0.0', hostPort: String(port) }, ...(hostHasIpv6() ? [{ hostIp: '::', hostPort: String(port) }] : [])]
}

/** Host interface names starting with `prefix`. */
export function hostLinks(prefix: string): string[] {
  return execFileSync('ip', ['-o', 'link', 'show'])
    .toString()
    .split('\n')
    .map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1] ?? '')
    .filter((n) => n.startsWith(prefix))
}

/** The host end of a running container's eth0: the link whose index `ip` shows as its peer inside (eth0@if<index>). */
export function hostVethOf(pid: number): string {
  const inside = execFileSync('nsenter', [`--net=/proc/${pid}/ns/net`, '--', 'ip', '-o', 'link', 'show', 'eth0']).toString()
  const index = /eth0@if(\d+)/.exec(inside)?.[1]
  const line = execFileSync('ip', ['-o', 'link', 'show']).toString().split('\n').find((l) => l.startsWith(`${index}: `))
  const name = line && /^\d+:\s+([^:@]+)/.exec(line)?.[1]
  if (!index || !name) throw new Error(`no host link is the peer of eth0 of pid ${pid}: ${inside}`)
  return name
}

/** Names of nf_tables tables (all families). */
export function nftTables(): string[] {
  return execFileSync('nft', ['list', 'tables']).toString().split('\n').filter(Boolean)
}

/** Waits until `fn` holds (bounded). */
export async function eventually(fn: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (fn()) return true
    await new Promise((r) => setTimeout(r, 100))
  }
  return fn()
}

/** Sleeps. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/** The IPv6 TCP listeners on host port `port` (ss), as `[addr]:port`. */
export function v6Listeners(port: number): string[] {
  return execFileSync('ss', ['-Hltn'], { encoding: 'utf8' }).split('\n').map((l) => l.trim().split(/\s+/)[3]).filter((a): a is string => !!a && a.startsWith('[') && a.endsWith(`]:${port}`))
}
