/**
 * Egress for a rootless runtime's namespace (lib/rootless/egress.ts): pasta,
 * then slirp4netns, attached to a network namespace made here, with no
 * traffic sent anywhere: what is checked is the
 * interface, address and default route each helper makes inside. And every
 * way it cannot work answers with a reason, quickly, never hanging.
 * And, end to end, a rootless runtime's container reaching a peer through
 * the pasta its user attached (the user given /dev/net/tun for the test).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { attachEgress, noEgressWarning, warnNoEgress, type EgressAttached } from '../../lib/rootless/egress'
import { processRuns, timeScale } from '../helpers'
import { eventually } from '../network/helpers'
import { requireTool } from '../tools/registry'
import { grantTun } from '../tools/tun-grant'
import { makeUnprivilegedUser, makeUserDirs, type UnprivilegedUser, type UserDirs } from '../tools/unprivileged-user'

const made: string[] = []
afterAll(() => made.forEach((ns) => execFileSync('ip', ['netns', 'del', ns])))

/** A new network namespace (ip netns: a path a helper can open after dropping its capabilities). */
function namespace(): string {
  const ns = `mcegress${process.pid % 100000}${made.length}`
  execFileSync('ip', ['netns', 'add', ns])
  made.push(ns)
  return ns
}

const inside = (ns: string, ...args: string[]): string => execFileSync('ip', ['-n', ns, ...args], { encoding: 'utf8' })


describe.each([['pasta'], ['slirp4netns']] as const)('%s attached to a namespace', (helper) => {
  it('makes an interface with an address and a default route there, and stops', async () => {
    const ns = namespace()
    const r = await attachEgress({ netns: `/run/netns/${ns}` }, { helpers: [helper] })
    expect(r).toMatchObject({ ok: true, helper, device: 'tap0' })
    const attached = r as EgressAttached
    try {
      expect(inside(ns, '-4', '-br', 'addr', 'show', 'tap0')).toMatch(/^tap0\s+\S+\s+\d+\.\d+\.\d+\.\d+\/\d+/)
      expect(inside(ns, '-4', 'route', 'show', 'default')).toMatch(/^default via \S+ dev tap0/)
      expect(processRuns(attached.pid)).toBe(true)
    } finally {
      attached.stop()
    }
    expect(await eventually(() => !processRuns(attached.pid), 2000 * timeScale)).toBe(true)
  })
})

describe('which helper goes first', () => {
  // The installed helpers, behind a pasta wrapper that answers --version as the build named (and is the real pasta otherwise).
  const dirs: string[] = []
  afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })))
  function helpersDir(pastaVersion: string, withSlirp: boolean): string {
    requireTool('pasta', 'passt')
    requireTool('slirp4netns', 'slirp4netns')
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-egress-choice-'))
    dirs.push(dir)
    const real = execFileSync('sh', ['-c', 'command -v pasta'], { encoding: 'utf8' }).trim()
    fs.writeFileSync(path.join(dir, 'pasta'), `#!/bin/sh
if [ "$1" = --version ]; then echo '${pastaVersion}'; exit 0; fi
exec ${real} "$@"
`, { mode: 0o755 })
    if (withSlirp) fs.symlinkSync(execFileSync('sh', ['-c', 'command -v slirp4netns'], { encoding: 'utf8' }).trim(), path.join(dir, 'slirp4netns'))
    return dir
  }

  it.each([
    ["Debian 12's pasta (no release named), slirp4netns installed", 'pasta unknown version', true, 'slirp4netns'],
    ["Debian 12's pasta alone: still pasta, the fallback", 'pasta unknown version', false, 'pasta'],
    ['a later pasta, slirp4netns installed: pasta', 'pasta 2025_01_21.4f2c8e7', true, 'pasta'],
  ] as const)('%s', async (_, version, withSlirp, expected) => {
    const ns = namespace()
    const r = await attachEgress({ netns: `/run/netns/${ns}` }, { searchPath: [helpersDir(version, withSlirp)] })
    expect(r).toMatchObject({ ok: true, helper: expected, device: 'tap0' })
    const attached = r as EgressAttached
    try {
      expect(inside(ns, '-4', 'route', 'show', 'default')).toMatch(/^default via \S+ dev tap0/)
    } finally {
      attached.stop()
    }
    expect(await eventually(() => !processRuns(attached.pid), 2000 * timeScale)).toBe(true)
  })
})

describe('no egress, with the reason, never a hang', () => {
  it('a missing TUN device is reported before any helper runs', async () => {
    const t = Date.now()
    const r = await attachEgress({ netns: '/proc/self/ns/net' }, { tunPath: '/nonexistent/net/tun' })
    expect(Date.now() - t).toBeLessThan(500)
    expect(r).toEqual({ ok: false, reason: expect.stringContaining('/nonexistent/net/tun does not exist') })
  })

  it('no helper installed: says what to install', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-egress-'))
    try {
      const r = await attachEgress({ netns: '/proc/self/ns/net' }, { searchPath: [empty] })
      expect(r).toEqual({ ok: false, reason: 'neither pasta nor slirp4netns was found (Debian: apt-get install passt)' })
    } finally {
      fs.rmSync(empty, { recursive: true })
    }
  })

  it('a helper that never gets ready is killed at the time limit, and the next one is not waited for longer', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-egress-'))
    const marker = `sleep 600.${process.pid}`
    for (const name of ['pasta', 'slirp4netns']) fs.writeFileSync(path.join(dir, name), `#!/bin/sh\nexec ${marker}\n`, { mode: 0o755 })
    try {
      const t = Date.now()
      const r = await attachEgress({ netns: '/proc/self/ns/net' }, { searchPath: [dir], timeoutMs: 300 })
      expect(Date.now() - t).toBeLessThan(2000 * timeScale)
      expect(r).toEqual({ ok: false, reason: 'pasta was not ready within 300 ms; slirp4netns was not ready within 300 ms' })
      const stuck = (): string => execFileSync('sh', ['-c', `pgrep -f '[${marker[0]}]${marker.slice(1)}' || true`], { encoding: 'utf8' }).trim()
      expect(await eventually(() => !stuck(), 1000 * timeScale)).toBe(true) // SIGKILL sent; the kernel takes a moment
    } finally {
      fs.rmSync(dir, { recursive: true })
    }
  })

  it('a helper that fails says why', async () => {
    const r = await attachEgress({ netns: '/run/netns/mc-no-such-namespace' }, { helpers: ['pasta'] })
    expect(r.ok).toBe(false)
    expect((r as { reason: string }).reason).toMatch(/^pasta exited \(\d+\) before it was ready: \S/)
  })

  it('warns once, with its code', () => {
    // jest's sandbox does not forward the process's 'warning' events: the call itself is what is seen.
    const emit = jest.spyOn(process, 'emitWarning').mockImplementation(() => {})
    try {
      warnNoEgress('reason one')
      warnNoEgress('reason two')
      expect(emit.mock.calls).toEqual([[expect.stringContaining('reason one'), { code: noEgressWarning }]])
    } finally {
      emit.mockRestore()
    }
  })
})

describe('as an ordinary user, for a namespace of its own user namespace', () => {
  let user: UnprivilegedUser
  beforeAll(() => (user = makeUnprivilegedUser()))
  afterAll(() => user?.remove())

  it('attaches when the user may open /dev/net/tun, and says why not at once when it may not (0600, the Debian default)', () => {
    const r = user.node(`
      const { spawn } = require('node:child_process')
      const { attachEgress } = lib('rootless/egress')
      ;(async () => {
        const holder = spawn('unshare', ['-Urn', 'sleep', '60'], { stdio: 'ignore' })
        await new Promise((r) => setTimeout(r, 300))
        const t = Date.now()
        const res = await attachEgress({ netns: '/proc/' + holder.pid + '/ns/net', userns: '/proc/' + holder.pid + '/ns/user' }, { helpers: ['pasta'] })
        const ms = Date.now() - t
        const addr = res.ok ? require('node:child_process').execFileSync('nsenter', ['-t', String(holder.pid), '-U', '-n', '--preserve-credentials', '/usr/sbin/ip', '-4', '-br', 'addr', 'show', 'tap0'], { encoding: 'utf8' }) : ''
        if (res.ok) res.stop()
        holder.kill('SIGKILL')
        console.log(JSON.stringify({ ok: res.ok, reason: res.reason, ms, addr }))
      })()
    `)
    expect(r.stderr).toBe('')
    const out = JSON.parse(r.stdout) as { ok: boolean; reason?: string; ms: number; addr: string }
    const othersMayOpen = (fs.statSync('/dev/net/tun').mode & 0o006) === 0o006
    if (othersMayOpen) {
      expect(out.ok).toBe(true)
      expect(out.addr).toMatch(/^tap0\s+\S+\s+\d+\.\d+\.\d+\.\d+\//)
    } else {
      expect(out).toMatchObject({ ok: false, reason: expect.stringContaining('/dev/net/tun cannot be opened by this user (EACCES') })
      expect(out.ms).toBeLessThan(100)
    }
  })
})

describe("a rootless runtime's egress through the helper its user attached (slirp4netns, before Debian 12's pasta)", () => {
  // The peer: a namespace of this test's, linked to the host's by a veth pair on a /30 of 198.18.0.0/15
  // (RFC 2544's benchmarking range, routed nowhere), where pasta's host-side sockets reach it.
  const tag = `${process.pid % 10000}`
  const ns = `mcpeer${tag}`
  const hostEnd = `mcpv${tag}h`
  const subnet = 4 * (process.pid % 16000)
  const hostIp = `198.${18 + (subnet >> 16)}.${(subnet >> 8) & 255}.${(subnet & 255) + 1}`
  const peerIp = `198.${18 + (subnet >> 16)}.${(subnet >> 8) & 255}.${(subnet & 255) + 2}`
  const peerPort = 8000 + (process.pid % 1000)
  let user: UnprivilegedUser
  let dirs: UserDirs
  let peer: ReturnType<typeof spawn> | undefined
  let ungrant: (() => void) | undefined
  // This host's pasta, as its --version says (an observer): Debian 12's names no release and goes after slirp4netns.
  let expectedHelper: 'pasta' | 'slirp4netns'
  beforeAll(() => {
    requireTool('pasta', 'passt')
    requireTool('slirp4netns', 'slirp4netns')
    expectedHelper = /unknown version/.test(execFileSync('pasta', ['--version'], { encoding: 'utf8' })) ? 'slirp4netns' : 'pasta'
    user = makeUnprivilegedUser()
    dirs = makeUserDirs(user, 'mc-rl-egress')
    execFileSync('ip', ['netns', 'add', ns])
    execFileSync('ip', ['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
    execFileSync('ip', ['addr', 'add', `${hostIp}/30`, 'dev', hostEnd])
    execFileSync('ip', ['link', 'set', hostEnd, 'up'])
    for (const args of [['addr', 'add', `${peerIp}/30`, 'dev', 'eth0'], ['link', 'set', 'eth0', 'up'], ['link', 'set', 'lo', 'up']]) inside(ns, ...args)
    // It says who connected: the host's end of the veth (pasta's socket on the host), not the container.
    peer = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', `require('node:net').createServer((s) => s.end('peer saw ' + s.remoteAddress + '\\n')).listen(${peerPort}, '${peerIp}', () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] })
    ungrant = grantTun('/dev/net/tun', user.uid)
  })
  afterAll(() => {
    ungrant?.()
    peer?.kill('SIGKILL')
    execFileSync('ip', ['netns', 'del', ns])
    spawnSync('ip', ['link', 'del', hostEnd], { stdio: 'ignore' }) // gone with the namespace already, normally
    dirs?.remove()
    user?.remove()
  })

  // The container's nc reads a FIFO opened read-write (never at its end), so it never half-closes first:
  // it ends at the peer's FIN. timeout makes any hang a failure showing the logs, in 10 s.
  const closesAfterPeer = `busybox mkfifo /tmp/in && busybox timeout 10 nc ${peerIp} ${peerPort} <>/tmp/in`
  // With </dev/null nc's FIN crosses the peer's. Each of the 8 connections must bring the peer's bytes
  // back and close: each line is nc's status and what it got, so a failure says which (143 and the line:
  // the peer's FIN never came; 143 alone: nothing came). The installed pasta (passt 0.0~git20230309,
  // Debian 12's) lost that close in 6 of 15 runs under load (re-sending the peer's bytes as new data every
  // ~2 s, never passing its FIN on), which is why slirp4netns goes first beside it (egress-choice.ts);
  // slirp4netns 1.2.0 passed 1300 of 1300 on its own (test/rootless/fin-crossing-repro.sh). Its one loss
  // in CI was most likely the bridge's MAC moving under the container (issue 19, lib/network/bridge.ts).
  const simultaneousCloses = `for i in 1 2 3 4 5 6 7 8; do got=$(busybox timeout 10 nc ${peerIp} ${peerPort} </dev/null 2>/dev/null); echo "$? $got"; done`

  it('a container on the default bridge reaches a peer off the host through slirp4netns, closes crossing FINs, without the no-egress warning; close() ends the helper', async () => {
    await new Promise((resolve) => peer!.stdout!.once('data', resolve))
    // The user may open the device now, others may not (the mode's bits for others are untouched).
    expect(user.node(`require('node:fs').closeSync(require('node:fs').openSync('/dev/net/tun', 'r+')); console.log('opened')`).stdout).toBe('opened\n')
    const r = user.node(
      `;(async () => {
  const { Runtime, Image, run } = lib()
  const fs = require('node:fs')
  const warnings = []
  process.on('warning', (w) => warnings.push(w.code))
  const helpers = () => Object.fromEntries(['pasta', 'slirp4netns'].map((name) => [name, fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).filter((p) => {
    try { return fs.statSync('/proc/' + p).uid === process.getuid() && fs.readFileSync('/proc/' + p + '/cmdline', 'latin1').split('\\0')[0].endsWith(name) } catch { return false }
  }).length]))
  const rt = new Runtime()
  const out = {}
  try {
    await Image.import(${JSON.stringify(path.join(dirs.images, 'bb'))}, { runtime: rt, ref: 'bb:latest' })
    const c = await run('bb', ['sh', '-c', ${JSON.stringify(closesAfterPeer)}], { runtime: rt })
    out.exit = await c.wait()
    out.logs = await new Promise((res, rej) => { let s = ''; c.logs().on('data', (d) => (s += d)).on('end', () => res(s)).on('error', rej) })
    const crossing = await run('bb', ['sh', '-c', ${JSON.stringify(simultaneousCloses)}], { runtime: rt })
    out.crossingExit = await crossing.wait()
    out.crossingLogs = await new Promise((res, rej) => { let s = ''; crossing.logs().on('data', (d) => (s += d)).on('end', () => res(s)).on('error', rej) })
    out.helpersRunning = helpers()
  } finally {
    await rt.close()
  }
  await new Promise((r) => setTimeout(r, 500))
  out.helpersAfter = helpers()
  out.warnings = warnings
  console.log(JSON.stringify(out))
})()`,
      [],
      { HOME: dirs.home },
    )
    if (r.status !== 0) throw new Error(`the user's script failed (${r.status}): ${r.stderr}`)
    const out = JSON.parse(r.stdout)
    const saw = `peer saw ${hostIp}\n`
    expect(out).toEqual({
      exit: { exitCode: 0 },
      logs: saw,
      crossingExit: { exitCode: 0 },
      crossingLogs: `0 ${saw}`.repeat(8),
      helpersRunning: { pasta: 0, slirp4netns: 0, [expectedHelper]: 1 },
      helpersAfter: { pasta: 0, slirp4netns: 0 },
      warnings: [],
    })
  })
})
