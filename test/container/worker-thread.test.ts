/**
 * A runtime used from a worker_thread, then the worker terminated. Node tracks the fds a worker
 * opened with fs.open* and closes those still open when it ends: an fd lib/ opened that way and
 * closed behind Node's back (libc close, native code) has by then been reused by another of the
 * process's fds (a netlink socket, a shim's control socket), which Node closed instead: "File
 * descriptor N opened in unmanaged mode twice" on every such run, and about one run in three an
 * abort (the netlink addon's poll failing throws a C++ Napi::Error).
 */
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Container, Image, Runtime } from '../../lib'
import { pickFreePort } from '../../lib/network/port-probe'
import { useSubnets } from '../net-helpers'
import { sleep, timeScale } from '../helpers'
import { nodeScript, spawnNode } from '../tools/node-child'
import { makeRoot } from '../network/helpers'

const rounds = 8
let runtime: Runtime
const [subnet] = useSubnets(1)

beforeAll(async () => {
  runtime = new Runtime({ root: makeRoot(), subnetPool: [subnet.cidr] })
  await Image.fromHost({ runtime })
})

afterAll(async () => {
  for (const c of await Container.list({ runtime, all: true })) await c.remove({ force: true }).catch(() => {})
  await runtime.close()
  fs.rmSync(runtime.root, { recursive: true, force: true })
})

/** Running, not a zombie. */
function alive(pid: number): boolean {
  try {
    return !/State:\s+Z/.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  } catch {
    return false
  }
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(20)) if (cond()) return true
  return cond()
}

/** The worker's code for one round: containers on the bridge (one publishing `port`), an exec, a copy in and out, one with rm. */
function workerCode(round: number, port: number, dir: string): string {
  return `
    const fs = require('node:fs')
    const { parentPort } = require('node:worker_threads')
    require(${JSON.stringify(path.join(__dirname, '../tools/ts-register.js'))})
    const { run, Runtime } = require(${JSON.stringify(path.join(__dirname, '../../lib'))})
    ;(async () => {
      const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)}, subnetPool: [${JSON.stringify(subnet.cidr)}] })
      const name = 'wt-${round}-'
      const [published, plain, removed] = await Promise.all([
        run('host', ['sleep', '60'], { runtime, name: name + 'p', network: 'bridge', ports: ['127.0.0.1:${port}:80'] }),
        run('host', ['sleep', '60'], { runtime, name: name + 'b', network: 'bridge' }),
        run('host', ['sleep', '60'], { runtime, name: name + 'rm', network: 'bridge', rm: true }),
      ])
      const ex = await plain.exec(['sh', '-c', 'echo in-${round} > /tmp/x'])
      if (ex.exitCode !== 0) throw new Error('exec failed')
      fs.writeFileSync(${JSON.stringify(dir)} + '/in', 'copied-${round}')
      await published.copyTo(${JSON.stringify(dir)} + '/in', '/tmp')
      await published.copyFrom('/tmp/in', ${JSON.stringify(dir)} + '/out')
      await plain.copyFrom('/tmp/x', ${JSON.stringify(dir)} + '/x')
      parentPort.postMessage(await Promise.all([published, plain, removed].map(async (c) => (await c.inspect()).state.pid)))
    })().catch((e) => { console.error('worker failed', e); process.exit(3) })
  `
}

/** One child process: a worker runs `code`, then is terminated; the child stays until killed. */
function ownerOfOneWorker(code: string) {
  const script = `const { Worker } = require('node:worker_threads')
    const worker = new Worker(process.argv[1], { eval: true })
    worker.once('error', (e) => { console.error('worker error', e); process.exit(4) })
    worker.once('message', async (pids) => {
      await worker.terminate()
      await new Promise((r) => setTimeout(r, 200)) // a process abort would come meanwhile
      console.log('worker gone, pids ' + pids.join(' '))
    })
    setInterval(() => {}, 1000)`
  const child = spawnNode(script, { stdio: ['ignore', 'pipe', 'pipe'] }, [code])
  const out = { stdout: '', stderr: '' }
  child.stdout!.on('data', (d) => (out.stdout += String(d)))
  child.stderr!.on('data', (d) => (out.stderr += String(d)))
  const ended = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(`exited ${code ?? signal}`)))
  const gone = until(() => out.stdout.includes('worker gone'), 60_000 * timeScale).then((done) => (done ? 'worker gone' : 'timed out'))
  return { child, out, outcome: Promise.race([ended, gone]) }
}

// The abort came about one run in three: several rounds, each its own process (the addon's state is per process).
test('a runtime used from a worker_thread that is then terminated closes none of the process fds: no abort, no "unmanaged mode" warning, its containers run on', async () => {
  const dir = fs.mkdtempSync(path.join(runtime.root, 'copies-'))
  for (let round = 0; round < rounds; round++) {
    const port = (await pickFreePort('tcp', '127.0.0.1', () => false))!
    const copies = fs.mkdtempSync(path.join(dir, `r${round}-`))
    const { child, out, outcome } = ownerOfOneWorker(workerCode(round, port, copies))
    try {
      expect({ round, outcome: await outcome, stderr: out.stderr }).toEqual({ round, outcome: 'worker gone', stderr: '' })
      const pids = /pids ([\d ]+)/.exec(out.stdout)![1].split(' ').map(Number)
      expect(pids.filter((p) => !alive(p))).toEqual([])
      expect([fs.readFileSync(path.join(copies, 'out'), 'utf8'), fs.readFileSync(path.join(copies, 'x'), 'utf8')]).toEqual([`copied-${round}`, `in-${round}\n`])
      child.kill('SIGKILL')
      expect(await until(() => !pids.some(alive), 5000)).toBe(true)
    } finally {
      child.kill('SIGKILL')
    }
  }
}, 300_000)

/*
 * worker.terminate() of a worker_thread whose runtime just started a container on the bridge, while
 * its netlink work is still under way (the start's background work: warm endpoints, the exit
 * watcher's release) or after it went idle. The `netlink` package's addon polled each socket with a
 * libuv handle whose callback called into JavaScript unguarded: an answer or a send completion
 * arriving as the worker's environment ended made node-addon-api raise a fatal error, and the whole
 * process aborted (napi_define_properties, from Socket::Recvmsg or the send timer). Netlink sockets
 * are now read right after each send, with no handle (lib/network/netlink-fd.ts): nothing is left
 * for the loop to call. One child process runs every round (an abort would end it).
 */
const terminatedRounds = 24

test(`${terminatedRounds} workers, each terminated as its bridge start's netlink work runs or once idle: the process lives through every round`, async () => {
  const worker = `
    const { parentPort } = require('node:worker_threads')
    require(${JSON.stringify(path.join(__dirname, '../tools/ts-register.js'))})
    const { run, Runtime } = require(${JSON.stringify(path.join(__dirname, '../../lib'))})
    const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)}, subnetPool: [${JSON.stringify(subnet.cidr)}] })
    run('host', ['sleep', '60'], { runtime, network: 'bridge' }).then(() => parentPort.postMessage('started'), (e) => { console.error('worker failed', e); process.exit(3) })`
  const script = `const { Worker } = require('node:worker_threads')
    ;(async () => {
      for (let round = 0; round < ${terminatedRounds}; round++) {
        const w = new Worker(process.argv[1], { eval: true })
        await new Promise((resolve, reject) => w.once('message', resolve).once('error', reject))
        // Three of four at once or within 20 ms (the start's background netlink work), one of four idle.
        await new Promise((r) => setTimeout(r, round % 4 === 3 ? 500 : round % 3 === 0 ? 0 : Math.random() * 20))
        await w.terminate()
        process.stdout.write(round + ' ') // how far it came, if it aborts
      }
      await new Promise((r) => setTimeout(r, 300)) // an abort would come meanwhile
      console.log('survived')
      process.exit(0)
    })().catch((e) => { console.error(e); process.exit(5) })`
  const child = spawnNode(script, { stdio: ['ignore', 'pipe', 'pipe'] }, [worker])
  const out = { stdout: '', stderr: '' }
  child.stdout!.on('data', (d) => (out.stdout += String(d)))
  child.stderr!.on('data', (d) => (out.stderr += String(d)))
  const ended = await new Promise<string>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      resolve('timed out')
    }, 240_000 * timeScale)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      resolve(`exited ${code ?? signal}`)
    })
  })
  expect({ ended, stdout: out.stdout, stderr: out.stderr.split('\n').filter((l) => !/ExperimentalWarning|--trace-warnings/.test(l)).join('\n').slice(0, 2000) }).toEqual({ ended: 'exited 0', stdout: `${Array.from({ length: terminatedRounds }, (_, i) => `${i} `).join('')}survived\n`, stderr: '' })
}, 300_000)

// The netlink package's addon registers itself only when loaded afresh: once every thread that loaded it
// ended, Node refused it to a later worker ("Module did not self-register"), and minicontainer failed to load.
test('in a process whose main thread never loads the library, a worker loads it and starts a container on the bridge after a networking worker ended', async () => {
  const worker = `
    const { parentPort } = require('node:worker_threads')
    require(${JSON.stringify(path.join(__dirname, '../tools/ts-register.js'))})
    const { run, Runtime } = require(${JSON.stringify(path.join(__dirname, '../../lib'))})
    const runtime = new Runtime({ root: ${JSON.stringify(runtime.root)}, subnetPool: [${JSON.stringify(subnet.cidr)}] })
    run('host', ['sleep', '60'], { runtime, network: 'bridge' }).then((c) => parentPort.postMessage(c.id.length), (e) => parentPort.postMessage(e.message))`
  const script = `const { Worker } = require('node:worker_threads')
    ;(async () => {
      for (let round = 0; round < 3; round++) {
        const w = new Worker(process.argv[1], { eval: true })
        const said = await new Promise((resolve) => w.once('message', resolve).once('error', (e) => resolve(e.message)))
        await w.terminate()
        console.log(said)
      }
      process.exit(0)
    })()`
  const r = spawnSync(process.execPath, ['-e', nodeScript(script), worker], { encoding: 'utf8', timeout: 120_000 * timeScale })
  expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: '64\n64\n64\n' })
}, 180_000)
