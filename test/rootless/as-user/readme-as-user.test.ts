/**
 * Issue 19's "Done when", the parts no other test runs as the user itself: the README's quickstart,
 * run as written by an ordinary user (rootless, no sudo), and the issue's redis example: a redis
 * container published on a port (Debian's redis-server in the host image, the stand-in the README's
 * jest test uses for redis:7-alpine, which cannot be pulled here) reached from the host. Each leaves
 * nothing: no process of its own (keeper, shim, relay), no container, no mount.
 */
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as net from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'
import * as ts from 'typescript'
import { Image, Runtime, Wait, run } from '../../../lib'
import { destroyRuntime, tempRuntime } from '../../helpers'
import { requireFreshBuild } from '../../tools/fresh-build'
import { repoRoot } from '../../tools/repo-root'
import { hostStandIn } from '../../tools/stand-in-image'

jest.setTimeout(180_000)

/** The README's quickstart block, compiled to the ES module `tsc` makes of it. */
function quickstartModule(): string {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8')
  const block = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '').find((code) => code.startsWith('// quickstart.mts\n'))
  if (!block) throw new Error("the README has no quickstart block (a ts block starting '// quickstart.mts')")
  return ts.transpileModule(block, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText
}

/**
 * This user's processes that belong to `owner`: in its session, or an `mc-shim` naming it (keeper, zygote, shims:
 * their owner's pid is an argument), or naming the namespace of one of those (a relay names its keeper's net namespace).
 */
function processesOf(owner: number): string[] {
  const uid = process.getuid!()
  const mine = new Map<string, { words: string[]; session: number }>()
  for (const p of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (fs.statSync(`/proc/${p}`).uid !== uid) continue
      const words = fs.readFileSync(`/proc/${p}/cmdline`, 'latin1').split('\0').filter(Boolean)
      const session = Number(fs.readFileSync(`/proc/${p}/stat`, 'latin1').replace(/^.*\) /s, '').split(' ')[3])
      mine.set(p, { words, session })
    } catch {
      // ended meanwhile
    }
  }
  const shim = (w: string[]) => w[0] === 'mc-shim'
  const owned = [...mine].filter(([, { words, session }]) => session === owner || (shim(words) && words.includes(String(owner)))).map(([p]) => p)
  const viaOwned = [...mine].filter(([p, { words }]) => !owned.includes(p) && shim(words) && words.some((w) => owned.some((o) => w.startsWith(`/proc/${o}/`)))).map(([p]) => p)
  return [...owned, ...viaOwned].map((p) => `${p} ${mine.get(p)!.words.join(' ')}`)
}

/** What `processesOf(owner)` gives beyond `before`, once what dies with its owner has had the chance to (a keeper killed by its death signal is reaped by init). */
async function leftOf(owner: number, before: string[] = []): Promise<string[]> {
  const left = () => processesOf(owner).filter((p) => !before.includes(p))
  for (let i = 0; i < 100 && left().length; i++) await new Promise((r) => setTimeout(r, 50))
  return left()
}

/** Runs a program in a session of its own (its pid is the session's id) to its end: its pid, exit status and output. */
function runDetached(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ pid: number; status: number | null; stdout: string; stderr: string }> {
  const child = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (status) => resolve({ pid: child.pid!, status, stdout, stderr }))
  })
}

/** One exchange with redis on loopback: the command's reply, up to its end. */
function redis(port: number, command: string, replyEnd: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let reply = ''
    const s = net.connect(port, '127.0.0.1', () => s.write(`${command}\r\n`))
    s.on('data', (d) => {
      reply += d
      if (replyEnd.test(reply)) {
        s.end()
        resolve(reply)
      }
    })
    s.on('error', reject)
    s.on('close', () => reject(new Error(`redis closed the connection after ${JSON.stringify(reply)}`)))
  })
}

test("the README's quickstart runs as written by an ordinary user (rootless): its output, exit code 3, and nothing left: no process of it, no container, no mount", async () => {
  expect(process.geteuid!()).not.toBe(0)
  requireFreshBuild('dist/index.js')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rl-quickstart-'))
  const root = path.join(dir, 'root')
  try {
    fs.mkdirSync(path.join(dir, 'node_modules'))
    fs.symlinkSync(repoRoot, path.join(dir, 'node_modules', 'minicontainer'))
    fs.writeFileSync(path.join(dir, 'quickstart.mjs'), quickstartModule())
    // In a session of its own: whatever it leaves running stays in that session (or names it as owner).
    const r = await runDetached(process.execPath, ['quickstart.mjs'], { cwd: dir, env: { ...process.env, MINICONTAINER_ROOT: root } })
    expect(r.stdout).toMatch(/^hi from box\nexit code 3\nPRETTY_NAME=.+\n$/)
    expect(r.status).toBe(0)
    // Its only words on stderr: the one warning a rootless default bridge gives where the user may not open /dev/net/tun.
    const warnings = r.stderr.split('\n').filter((l) => l && !l.startsWith('(Use `node --trace-warnings'))
    expect(warnings.filter((l) => !l.includes('[MINICONTAINER_NO_EGRESS]'))).toEqual([])
    expect(warnings.length).toBeLessThanOrEqual(1)
    expect(await leftOf(r.pid)).toEqual([])
    expect(fs.readdirSync(path.join(root, 'containers')).filter((f) => !f.startsWith('.'))).toEqual([])
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(root)
  } finally {
    // Its store may hold files of the user's subordinate ids: removed through a runtime's user namespace.
    if (fs.existsSync(root)) await new Runtime({ root }).close({ removeRoot: true })
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

describe('redis published on a port, as the user', () => {
  let rt: Runtime
  let destroyed = false
  let before: string[]
  beforeAll(async () => {
    before = processesOf(process.pid)
    rt = tempRuntime('mc-rl-redis-')
    expect(rt.rootless).toBe(true)
    await Image.fromHost({ runtime: rt, ref: 'host' })
    await hostStandIn(rt, 'redis:7-alpine', { cmd: ['redis-server', '--protected-mode', 'no', '--save', ''] })
  })
  afterAll(() => (destroyed ? undefined : destroyRuntime(rt)))

  test("ports: ['6379'] with Wait.forListeningPorts(): the host reaches it at redis.port(6379) on 127.0.0.1 (PING, SET, GET); once removed the port is closed, and the runtime's close leaves no process of it", async () => {
    const c = await run('redis:7-alpine', [], { runtime: rt, ports: ['6379'], waitFor: Wait.forListeningPorts() })
    const published = c.port(6379)
    const port = Number(published?.hostPort)
    try {
      expect(published?.hostIp).toBe('0.0.0.0')
      expect(await redis(port, 'PING', /\r\n$/)).toBe('+PONG\r\n')
      expect(await redis(port, 'SET greeting rootless', /\r\n$/)).toBe('+OK\r\n')
      expect(await redis(port, 'GET greeting', /\r\n.*\r\n$/s)).toBe('$8\r\nrootless\r\n')
      // What the check after close() looks for is seen meanwhile: the runtime's keeper (naming this process its owner) and the port's relay.
      const during = processesOf(process.pid).filter((p) => !before.includes(p))
      expect(during.filter((p) => / mc-shim (keeper|relay) /.test(p)).map((p) => p.split(' ')[2]).sort()).toEqual(['keeper', 'relay'])
    } finally {
      await c.remove({ force: true })
    }
    await expect(redis(port, 'PING', /\r\n$/)).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    const root = rt.root
    destroyed = true
    await destroyRuntime(rt)
    expect(await leftOf(process.pid, before)).toEqual([])
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(root)
  })
})
