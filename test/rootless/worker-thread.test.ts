/**
 * A rootless runtime made in a worker_thread, the worker then ended while its container runs. The
 * relay of a published port and the egress helper belong to the process, not to the thread that
 * made the runtime: Node closes a worker's handles when it ends (a relay's control socket, the
 * helper's exit pipe), and a helper armed with PR_SET_PDEATHSIG dies with the thread that spawned
 * it. So the port answers from the main thread after the worker is gone, egress stays attached,
 * and nothing of the user's is left once the process ends.
 */
import * as path from 'node:path'
import { sleep, timeScale } from '../helpers'
import { nodeScript } from '../tools/node-child'
import { requireTool } from '../tools/registry'
import { grantTun } from '../tools/tun-grant'
import { describePid, makeUnprivilegedUser, makeUserDirs, pidsOf, type UnprivilegedUser, type UserDirs } from '../tools/unprivileged-user'

describe('a rootless runtime made in a worker_thread that then ended', () => {
  let user: UnprivilegedUser
  let dirs: UserDirs
  let ungrant: (() => void) | undefined
  beforeAll(() => {
    requireTool('slirp4netns', 'slirp4netns')
    user = makeUnprivilegedUser()
    dirs = makeUserDirs(user, 'mc-rl-worker')
    ungrant = grantTun('/dev/net/tun', user.uid)
  })
  afterAll(() => {
    ungrant?.()
    dirs?.remove()
    user?.remove()
  })

  test("its published port still answers from the main thread and its egress helper runs on, until the container is removed, when the relay is reaped (so is the helper, killed); nothing is left after", async () => {
    const worker = nodeScript(`
      const { parentPort } = require('node:worker_threads')
      const { Runtime, Image, run } = lib()
      ;(async () => {
        const rt = new Runtime()
        await Image.import(${JSON.stringify(path.join(dirs.images, 'bb'))}, { runtime: rt, ref: 'bb:latest' })
        const c = await run('bb', ['nc', '-ll', '-p', '7000', '-e', 'cat'], { runtime: rt, ports: ['127.0.0.1::7000'] })
        parentPort.postMessage({ id: c.id, port: c.mappedPort(7000) })
      })().catch((e) => { console.error('worker failed', e); process.exit(3) })`)
    const r = user.node(
      `;(async () => {
  const { Worker } = require('node:worker_threads')
  const { Runtime, Container } = lib()
  const fs = require('node:fs')
  const echo = (port) => new Promise((resolve) => {
    const s = require('node:net').connect(port, '127.0.0.1', () => s.end('ping\\n'))
    let got = ''
    s.on('data', (d) => (got += d)).on('end', () => resolve(got)).on('error', (e) => resolve(e.code))
  })
  const eventually = async (f, want) => { let got; for (let i = 0; i < 50; i++) { got = await f(); if (got === want) break; await new Promise((r) => setTimeout(r, 100)) } return got }
  // How many of the user's live processes run a program whose command line starts with prefix.
  const running = (prefix) => fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).filter((p) => {
    try { return fs.statSync('/proc/' + p).uid === process.getuid() && fs.readFileSync('/proc/' + p + '/cmdline', 'latin1').startsWith(prefix) && !/^\\d+ \\(.*\\) Z/.test(fs.readFileSync('/proc/' + p + '/stat', 'latin1')) } catch { return false }
  })
  const helpers = () => ({ relay: running('mc-shim\\0relay\\0').length, egress: running('/usr/bin/slirp4netns\\0').length + running('/usr/bin/pasta').length })
  // The states of those of pids still children of this process: a zombie ('Z') stays so for good
  // unless this process reaps it (the worker that spawned it has ended); reaped, it is gone.
  const left = (pids) => pids.flatMap((p) => { try { const [state, ppid] = fs.readFileSync('/proc/' + p + '/stat', 'latin1').replace(/^.*\\) /, '').split(' '); return Number(ppid) === process.pid ? [state] : [] } catch { return [] } }).join()
  const out = {}
  const w = new Worker(${JSON.stringify(worker)}, { eval: true })
  const made = await new Promise((resolve, reject) => w.once('message', resolve).once('error', reject).once('exit', (code) => reject(new Error('worker exited ' + code))))
  out.before = await eventually(() => echo(made.port), 'ping\\n')
  out.helpersBefore = helpers()
  const relayPids = running('mc-shim\\0relay\\0')
  const egressPids = running('/usr/bin/slirp4netns\\0')
  await w.terminate()
  await new Promise((r) => setTimeout(r, 500))
  out.after = await echo(made.port)
  out.helpersAfter = helpers()
  const rt = new Runtime()
  try {
    await (await Container.get(made.id, { runtime: rt })).remove({ force: true })
    out.removed = await eventually(() => echo(made.port), 'ECONNREFUSED')
    out.relaysRemoved = helpers().relay // the egress helper of the runtime made here runs too, until close()
    out.relayLeft = await eventually(() => left(relayPids), '')
    // The worker's egress helper would run until this process ends: one that dies before is reaped too.
    for (const p of egressPids) process.kill(Number(p), 'SIGKILL')
    out.egressLeft = await eventually(() => left(egressPids), '')
  } finally {
    await rt.close()
  }
  console.log(JSON.stringify(out))
  process.exit(0)
})()`,
      [],
      { HOME: dirs.home },
    )
    if (r.status !== 0) throw new Error(`the user's script failed (${r.status}): ${r.stderr}`)
    const out = JSON.parse(r.stdout)
    expect(out).toEqual({ before: 'ping\n', helpersBefore: { relay: 1, egress: 1 }, after: 'ping\n', helpersAfter: { relay: 1, egress: 1 }, removed: 'ECONNREFUSED', relaysRemoved: 0, relayLeft: '', egressLeft: '' })
    // The worker's runtime was never closed: its keeper and egress helper end with the process (PDEATHSIG, exit fd), a moment after.
    const deadline = Date.now() + 5000 * timeScale
    while (pidsOf(user.uid).length && Date.now() < deadline) await sleep(20)
    expect(pidsOf(user.uid).map(describePid)).toEqual([])
  })
})
