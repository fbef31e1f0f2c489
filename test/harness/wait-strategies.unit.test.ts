// The wait strategies' decisions with plain inputs and no container: a scripted target (log
// lines pushed by the test, an exit the test triggers), /proc/net/tcp text, and for HTTP and
// listening ports a real server on loopback in this process's own network namespace (the target's
// "pid" is this process), so nothing needs root.
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import { waitUntilReady } from '../../lib/harness/wait-until-ready'
import { Wait } from '../../lib/harness/wait'
import { listeningTcpPorts, parseListeningPorts } from '../../lib/harness/proc-net'
import type { WaitStrategy } from '../../lib/harness/strategy'
import type { CommandResult, LogLine, WaitTarget } from '../../lib/harness/target'

/** A container as the strategies see it, driven by the test. */
class ScriptedTarget implements WaitTarget {
  readonly id = 'f'.repeat(64)
  readonly name = 'scripted'
  pid: number | undefined = process.pid
  ports: number[] = []
  endpointPort = 0
  execResults: number[] = []
  execCalls = 0
  private readonly lines: LogLine[] = []
  private ended = false
  private readonly wakers = new Set<() => void>()
  private finish!: (s: { exitCode: number }) => void
  private readonly exit = new Promise<{ exitCode: number }>((r) => (this.finish = r))

  log(line: string, stream: LogLine['stream'] = 'stdout'): void {
    this.lines.push({ line, stream })
    this.wake()
  }
  /** Wakes every reader (the wait's log pump and each strategy read the lines at once). */
  private wake(): void {
    for (const w of [...this.wakers]) w()
    this.wakers.clear()
  }
  end(exitCode: number): void {
    this.ended = true
    this.pid = undefined
    this.finish({ exitCode })
    this.wake()
  }
  runningPid(): number | undefined {
    return this.pid
  }
  exited() {
    return this.exit
  }
  async *logLines(signal: AbortSignal): AsyncIterable<LogLine> {
    for (let i = 0; ; ) {
      if (signal.aborted) return
      if (i < this.lines.length) yield this.lines[i++]
      else if (this.ended) return
      else await new Promise<void>((r) => {
        this.wakers.add(r)
        signal.addEventListener('abort', () => r(), { once: true })
      })
    }
  }
  lastLogLines(n: number): string[] {
    return this.lines.slice(-n).map((l) => `${l.stream}: ${l.line}`)
  }
  tcpPorts(): number[] {
    return this.ports
  }
  endpoint(): { host: string; port: number } {
    return { host: '127.0.0.1', port: this.endpointPort }
  }
  async exec(): Promise<CommandResult> {
    this.execCalls++
    return { exitCode: this.execResults.shift() ?? 1, stdout: '', stderr: '' }
  }
  health() {
    return undefined
  }
  watchHealth() {
    return () => {}
  }
}

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms))
/** Settles as 'ready' or with the error's code, so pending and settled waits can be told apart. */
const outcome = (p: Promise<void>) => p.then(() => 'ready', (e) => e.code ?? e)
/** Whether `p` is still pending after `ms`. */
async function pending(p: Promise<unknown>, ms = 30): Promise<boolean> {
  return Promise.race([p.then(() => false, () => false), tick(ms).then(() => true)])
}

describe('/proc/net/tcp parsing', () => {
  // Lines in the kernel's format (net/ipv4/tcp_ipv4.c get_tcp4_sock, tcp6 likewise); state 0A is TCP_LISTEN.
  const tcp = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0',
    '   1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12346 1 0000000000000000 100 0 0 10 0',
    '   2: 0100007F:9C40 0100007F:18EB 01 00000000:00000000 00:00000000 00000000  1000        0 12347 1 0000000000000000 20 4 30 10 -1',
    '   3: 0100007F:1F90 0100007F:A000 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000',
    '',
  ].join('\n')
  const tcp6 = [
    '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2222 1 0000000000000000 100 0 0 10 0',
    '',
  ].join('\n')

  test('only listening sockets count: 6379 and 80 listen; an established and a time-wait socket do not', () => {
    expect(parseListeningPorts(tcp)).toEqual([6379, 80])
  })
  test('IPv6 addresses: the port after the last colon', () => {
    expect(parseListeningPorts(tcp6)).toEqual([8080])
  })
  test('a header alone, or nothing, is no port', () => {
    expect(parseListeningPorts(tcp.split('\n')[0] + '\n')).toEqual([])
    expect(parseListeningPorts('')).toEqual([])
  })
  test("this process's real listening socket is seen, and is gone once closed", async () => {
    const server = http.createServer()
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as AddressInfo).port
    expect(listeningTcpPorts(process.pid).has(port)).toBe(true)
    await new Promise((r) => server.close(r))
    expect(listeningTcpPorts(process.pid).has(port)).toBe(false)
  })
})

describe('log messages', () => {
  test('a substring, on either stream by default', async () => {
    const t = new ScriptedTarget()
    const wait = outcome(waitUntilReady(t, Wait.forLogMessage('Ready to accept'), { timeout: 5000 }))
    t.log('starting')
    t.log('* Ready to accept connections', 'stderr')
    expect(await wait).toBe('ready')
  })
  test('`times`: not ready at the first match, ready at the second', async () => {
    const t = new ScriptedTarget()
    const wait = outcome(waitUntilReady(t, Wait.forLogMessage(/listening/, { times: 2 }), { timeout: 5000 }))
    t.log('listening on 1')
    expect(await pending(wait)).toBe(true)
    t.log('listening on 2')
    expect(await wait).toBe('ready')
  })
  test('`stream`: a match on the other stream does not count', async () => {
    const t = new ScriptedTarget()
    const wait = outcome(waitUntilReady(t, Wait.forLogMessage('ready', { stream: 'stderr' }), { timeout: 5000 }))
    t.log('ready', 'stdout')
    expect(await pending(wait)).toBe(true)
    t.log('ready', 'stderr')
    expect(await wait).toBe('ready')
  })
  test('a /g pattern matches every line afresh (its lastIndex would skip a shorter line)', async () => {
    const t = new ScriptedTarget()
    t.log('a long line that says ok at its end: ok')
    t.log('ok')
    expect(await outcome(waitUntilReady(t, Wait.forLogMessage(/ok/g, { times: 2 }), { timeout: 5000 }))).toBe('ready')
  })
  test('the program exits without the line: EEXITED with its code and the last lines', async () => {
    const t = new ScriptedTarget()
    const wait = waitUntilReady(t, Wait.forLogMessage('never'), { timeout: 5000 })
    t.log('fatal: no config')
    t.end(2)
    await expect(wait).rejects.toMatchObject({ code: 'EEXITED', exitCode: 2, logs: ['stdout: fatal: no config'], awaited: 'log message never' })
  })
})

describe('timeout, exit and cancel decisions', () => {
  test('ETIMEOUT after the timeout, naming what was awaited, with the last log lines', async () => {
    const t = new ScriptedTarget()
    t.log('still starting')
    const started = Date.now()
    const err = await waitUntilReady(t, Wait.forLogMessage('ready'), { timeout: 100 }).catch((e) => e)
    expect(err).toMatchObject({ code: 'ETIMEOUT', awaited: 'log message ready', logs: ['stdout: still starting'] })
    expect(Date.now() - started).toBeGreaterThanOrEqual(95)
    expect(err.elapsedMs).toBeGreaterThanOrEqual(95)
  })
  test('the last 50 lines only', async () => {
    const t = new ScriptedTarget()
    for (let i = 0; i < 60; i++) t.log(`line ${i}`)
    const err = await waitUntilReady(t, Wait.forLogMessage('ready'), { timeout: 20 }).catch((e) => e)
    expect(err.logs).toHaveLength(50)
    expect(err.logs[0]).toBe('stdout: line 10')
  })
  test("the caller's signal: an aborted wait rejects with its reason; one aborted before starts nothing", async () => {
    const t = new ScriptedTarget()
    const ac = new AbortController()
    const wait = waitUntilReady(t, Wait.forLogMessage('ready'), { timeout: 5000, signal: ac.signal })
    ac.abort(new Error('shutting down'))
    await expect(wait).rejects.toThrow('shutting down')
    await expect(waitUntilReady(t, Wait.forLogMessage('ready'), { signal: AbortSignal.abort(new Error('early')) })).rejects.toThrow('early')
  })
  test("a strategy's own error is passed on as it is", async () => {
    const failing: WaitStrategy = { description: 'x', awaitsExit: false, waitUntilReady: async () => Promise.reject(Object.assign(new Error('bad'), { code: 'EINVALID' })) }
    expect(await outcome(waitUntilReady(new ScriptedTarget(), failing, { timeout: 5000 }))).toBe('EINVALID')
  })
  test('forExit: the exit is readiness; with an exit code, another code is EEXITED', async () => {
    const ok = new ScriptedTarget()
    const wait = outcome(waitUntilReady(ok, Wait.forExit(), { timeout: 5000 }))
    ok.end(3)
    expect(await wait).toBe('ready')
    const bad = new ScriptedTarget()
    const strict = waitUntilReady(bad, Wait.forExit({ exitCode: 0 }), { timeout: 5000 })
    bad.end(1)
    await expect(strict).rejects.toMatchObject({ code: 'EEXITED', exitCode: 1, awaited: 'the program to exit with code 0' })
  })
})

describe('composites', () => {
  test('forAll: ready only when every strategy is', async () => {
    const t = new ScriptedTarget()
    const wait = outcome(waitUntilReady(t, Wait.forAll([Wait.forLogMessage('db up'), Wait.forLogMessage('cache up')]), { timeout: 5000 }))
    t.log('db up')
    expect(await pending(wait)).toBe(true)
    t.log('cache up')
    expect(await wait).toBe('ready')
  })
  test('forAny: the first ready wins and stops the others', async () => {
    const t = new ScriptedTarget()
    let otherStopped = false
    const never: WaitStrategy = { description: 'never', awaitsExit: false, waitUntilReady: (ctx) => new Promise((r) => ctx.signal.addEventListener('abort', () => ((otherStopped = true), r()))) }
    const wait = outcome(waitUntilReady(t, Wait.forAny([never, Wait.forLogMessage('up')]), { timeout: 5000 }))
    t.log('up')
    expect(await wait).toBe('ready')
    expect(otherStopped).toBe(true)
  })
  test('forAny: when every strategy fails, the first one’s error', async () => {
    const fail = (code: string): WaitStrategy => ({ description: code, awaitsExit: false, waitUntilReady: async () => Promise.reject(Object.assign(new Error(code), { code })) })
    expect(await outcome(waitUntilReady(new ScriptedTarget(), Wait.forAny([fail('EFIRST'), fail('ESECOND')]), { timeout: 5000 }))).toBe('EFIRST')
  })
  test('a composite awaits the exit if one part does (then exiting is not a failure); descriptions nest', () => {
    const s = Wait.forAll([Wait.forLogMessage('a'), Wait.forExit({ exitCode: 0 })])
    expect(s.awaitsExit).toBe(true)
    expect(Wait.forAny([Wait.forLogMessage('a')]).awaitsExit).toBe(false)
    expect(s.description).toBe('all of [log message a; the program to exit with code 0]')
  })
})

describe('listening ports and HTTP, against a real loopback server in this process', () => {
  let server: http.Server
  let port: number
  let answers: { status: number; body: string }[] = []
  let requests = 0
  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      requests++
      const a = answers.length > 1 ? answers.shift()! : answers[0]
      res.statusCode = a.status
      res.end(a.body)
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    port = (server.address() as AddressInfo).port
  })
  afterAll(() => new Promise((r) => server.close(r)))
  beforeEach(() => {
    answers = [{ status: 200, body: 'ok' }]
    requests = 0
  })
  const target = () => Object.assign(new ScriptedTarget(), { endpointPort: port })

  test('forListeningPorts: ready when the port listens; ETIMEOUT for a port nobody listens on; EINVALID without ports', async () => {
    expect(await outcome(waitUntilReady(target(), Wait.forListeningPorts([port]), { timeout: 5000 }))).toBe('ready')
    const t = Object.assign(target(), { ports: [port] })
    expect(await outcome(waitUntilReady(t, Wait.forListeningPorts(), { timeout: 5000 }))).toBe('ready')
    expect(await outcome(waitUntilReady(target(), Wait.forListeningPorts([port, 1]), { timeout: 100 }))).toBe('ETIMEOUT')
    expect(await outcome(waitUntilReady(target(), Wait.forListeningPorts(), { timeout: 5000 }))).toBe('EINVALID')
  })
  test('forListeningPorts: a target whose program is not running is never ready', async () => {
    expect(await outcome(waitUntilReady(Object.assign(target(), { pid: undefined }), Wait.forListeningPorts([port]), { timeout: 100 }))).toBe('ETIMEOUT')
  })
  test('forHttp: status 200 by default; 503 answers are retried until 200', async () => {
    answers = [{ status: 503, body: '' }, { status: 503, body: '' }, { status: 200, body: 'ok' }]
    expect(await outcome(waitUntilReady(target(), Wait.forHttp('/health', port), { timeout: 5000 }))).toBe('ready')
    expect(requests).toBe(3)
  })
  test('forHttp: another expected status, or a predicate; a status never given is ETIMEOUT', async () => {
    answers = [{ status: 204, body: '' }]
    expect(await outcome(waitUntilReady(target(), Wait.forHttp('/', port, { status: 204 }), { timeout: 5000 }))).toBe('ready')
    expect(await outcome(waitUntilReady(target(), Wait.forHttp('/', port, { status: (s) => s < 300 }), { timeout: 5000 }))).toBe('ready')
    expect(await outcome(waitUntilReady(target(), Wait.forHttp('/', port), { timeout: 200 }))).toBe('ETIMEOUT')
  })
  test('forHttp: the body must match a substring or a pattern (a /g pattern too)', async () => {
    answers = [{ status: 200, body: '{"status":"starting"}' }, { status: 200, body: '{"status":"UP"}' }]
    expect(await outcome(waitUntilReady(target(), Wait.forHttp('/', port, { body: '"UP"' }), { timeout: 5000 }))).toBe('ready')
    expect(requests).toBe(2)
    answers = [{ status: 200, body: 'UP UP' }]
    expect(await outcome(waitUntilReady(target(), Wait.forHttp('/', port, { body: /UP/g }), { timeout: 5000 }))).toBe('ready')
    answers = [{ status: 200, body: 'DOWN' }]
    expect(await outcome(waitUntilReady(target(), Wait.forHttp('/', port, { body: /^UP$/ }), { timeout: 200 }))).toBe('ETIMEOUT')
  })
})

describe('successful command', () => {
  test('retried until it exits 0', async () => {
    const t = Object.assign(new ScriptedTarget(), { execResults: [1, 1, 0] })
    expect(await outcome(waitUntilReady(t, Wait.forSuccessfulCommand(['pg_isready']), { timeout: 5000 }))).toBe('ready')
    expect(t.execCalls).toBe(3)
  })
  test('not run while the program is not running', async () => {
    const t = Object.assign(new ScriptedTarget(), { pid: undefined, execResults: [0] })
    expect(await outcome(waitUntilReady(t, Wait.forSuccessfulCommand(['true']), { timeout: 100 }))).toBe('ETIMEOUT')
    expect(t.execCalls).toBe(0)
  })
})
