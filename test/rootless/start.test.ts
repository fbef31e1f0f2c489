/**
 * Rootless containers (issue 19, slice 3), as an ordinary user the test
 * makes: the host image and an imported busybox image run with root inside
 * mapped to the user alone, with exit codes, json-file logs, exec, copies in
 * and out, and the overlay working (userxattr: a lower directory renamed);
 * mknod of a real device is EPERM (the user namespace is the device rule);
 * limits and network mode host are EUNSUPPORTED before anything is
 * made; the owner's SIGKILL kills the container; nothing is left afterwards
 * (no process, no mount on the host, no file outside the user's store).
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { keepersLine } from '../tools/keepers'
import { makeUnprivilegedUser, pidsOf, type UnprivilegedUser } from '../tools/unprivileged-user'

/** Lines of a script run as the user: the default (rootless) runtime as `rt`, `logs(c)`, and `out` printed as JSON at the end. */
function script(body: string): string {
  return `;(async () => {
  const { Runtime, Image, run } = lib()
  const { busyboxRootfs } = require(${JSON.stringify(path.join(__dirname, '../helpers'))})
  const fs = require('node:fs'), path = require('node:path')
  const logs = (c) => new Promise((res, rej) => { let s = ''; c.logs().on('data', (d) => (s += d)).on('end', () => res(s)).on('error', rej) })
  const out = {}
  const step = async (name, f) => { try { out[name] = await f() } catch (e) { out[name] = { code: e.code, message: e.message } } }
  const rt = new Runtime()
  ${body}
  await rt.close()
  console.log(JSON.stringify(out))
})()`
}

describe('rootless containers, as an ordinary user', () => {
  let user: UnprivilegedUser
  let home: string
  let state: string
  const asUser = (body: string) => {
    const r = user.node(script(body), [], { HOME: home })
    if (r.status !== 0) throw new Error(`the user's script failed (${r.status}): ${r.stderr}`)
    return JSON.parse(r.stdout)
  }
  beforeAll(() => {
    user = makeUnprivilegedUser()
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rl-start-'))
    fs.chownSync(home, user.uid, user.gid)
    state = `/tmp/minicontainer-${user.uid}`
  })
  afterAll(() => {
    fs.rmSync(home, { recursive: true, force: true })
    fs.rmSync(state, { recursive: true, force: true })
    user.remove()
  })

  test("the host image runs `id` as root mapped to the user, then its subordinate range (podman's layout); exit code and logs; mknod of 1:11 is EPERM", () => {
    const out = asUser(`
  await Image.fromHost({ runtime: rt })
  const c = await run('host', ['sh', '-c', 'id; cat /proc/self/uid_map /proc/self/gid_map; mknod /tmp/kmsg c 1 11 || echo mknod refused; ls -ln /dev/null; exit 7'], { runtime: rt, network: 'none' })
  out.exit = await c.wait()
  out.logs = await logs(c)
  await c.remove()`)
    expect(out.exit).toEqual({ exitCode: 7 })
    const lines = out.logs.split('\n')
    expect(lines[0]).toMatch(/^uid=0\(root\) gid=0\(root\)/)
    const { start, count } = user.subids
    expect(lines.slice(1, 5).map((l: string) => l.trim().split(/\s+/))).toEqual([
      ['0', String(user.uid), '1'],
      ['1', String(start), String(count)],
      ['0', String(user.gid), '1'],
      ['1', String(start), String(count)],
    ])
    expect(out.logs).toContain('Operation not permitted')
    expect(out.logs).toContain('mknod refused')
    // The host's /dev/null, bound (root's outside, so nobody's inside), never a node made in the container.
    expect(out.logs).toMatch(/^crw-rw-rw-\s+1\s+65534\s+65534\s+1,\s+3 .*\/dev\/null$/m)
  })

  test('an imported busybox image runs; its overlay renames and removes lower files; exec and copies in and out (running and stopped) work', () => {
    const out = asUser(`
  const dir = fs.mkdtempSync(path.join(process.env.HOME, 'bbroot-'))
  await Image.import(busyboxRootfs(dir), { runtime: rt, ref: 'bb:latest' })
  fs.rmSync(dir, { recursive: true })
  const c = await run('bb', ['sh', '-c', "echo hi > /tmp/x; cat /tmp/x; mv /root /root2 && rm /etc/motd && ls /etc/motd 2>&1; ls -d /root2; echo err >&2; exit 3"], { runtime: rt, network: 'none' })
  out.exit = await c.wait()
  out.logs = await logs(c)
  await c.copyFrom('/tmp/x', path.join(process.env.HOME, 'x.out')) // from the stopped container: a held view of its files
  out.stoppedCopy = fs.readFileSync(path.join(process.env.HOME, 'x.out'), 'utf8')
  await c.remove()
  const s = await run('bb', ['sleep', '300'], { runtime: rt, network: 'none' })
  await step('exec', () => s.exec(['sh', '-c', 'id -u; echo out; echo err >&2; exit 4']))
  fs.writeFileSync(path.join(process.env.HOME, 'in.txt'), 'from the host\\n')
  await s.copyTo(path.join(process.env.HOME, 'in.txt'), '/tmp/in.txt')
  await step('execCat', async () => (await s.exec(['cat', '/tmp/in.txt'])).stdout)
  await s.copyFrom('/etc/passwd', path.join(process.env.HOME, 'passwd.out'))
  out.copied = fs.readFileSync(path.join(process.env.HOME, 'passwd.out'), 'utf8').split('\\n')[0]
  await s.remove({ force: true })`)
    expect(out.exit).toEqual({ exitCode: 3 })
    expect(out.logs).toContain('hi\n')
    expect(out.logs).toMatch(/No such file or directory/) // /etc/motd removed: a whiteout in the upper dir
    expect(out.logs).toContain('/root2\n')
    expect(out.logs).toContain('err\n')
    expect(out.exec).toEqual({ exitCode: 4, stdout: '0\nout\n', stderr: 'err\n' })
    expect(out.execCat).toBe('from the host\n')
    expect(out.copied).toBe('root:x:0:0:root:/root:/bin/sh')
    expect(out.stoppedCopy).toBe('hi\n')
  })

  test('limits are EUNSUPPORTED naming the way around, and nothing is made', () => {
    const out = asUser(`
  await Image.fromHost({ runtime: rt })
  await step('memory', () => run('host', ['true'], { runtime: rt, network: 'none', memory: '64m' }))
  out.containers = fs.readdirSync(path.join(rt.root, 'containers')).filter((f) => !f.startsWith('.'))`)
    expect(out.memory).toEqual({ code: 'EUNSUPPORTED', message: expect.stringContaining('cgroup v2 delegated to your user') })
    expect(out.containers).toEqual([])
  })

  test("a container started from a worker_thread runs on when that thread ends (its keeper too), and dies with the process", async () => {
    // PR_SET_PDEATHSIG fires when the keeper's parent *thread* exits: it is spawned from a thread that lives
    // as long as the process, not the worker that made the runtime.
    const worker = `
      const { parentPort } = require('node:worker_threads')
      require(${JSON.stringify(path.join(__dirname, '../tools/ts-register.js'))})
      const { Runtime, Image, run } = require(${JSON.stringify(path.join(__dirname, '../../lib'))})
      ;(async () => {
        const rt = new Runtime()
        await Image.fromHost({ runtime: rt })
        const c = await run('host', ['sleep', '300'], { runtime: rt, network: 'none' })
        parentPort.postMessage((await c.inspect()).state.pid)
      })()`
    const owner = user.spawnNode(
      `const { Worker } = require('node:worker_threads')
  ${keepersLine}
  const w = new Worker(${JSON.stringify(worker)}, { eval: true })
  w.once('error', (e) => { console.error(e); process.exit(3) })
  w.once('message', (container) => w.terminate().then(() => setTimeout(() => console.log(JSON.stringify({ node: process.pid, container, keepers: keepers() })), 300)))
  setInterval(() => {}, 1000)`,
      { HOME: home },
    )
    const started = await new Promise<{ node: number; container: number; keepers: number[] }>((resolve, reject) => {
      let text = ''
      owner.stdout!.on('data', (d: Buffer) => {
        text += d
        if (text.includes('\n')) resolve(JSON.parse(text.split('\n')[0]!))
      })
      owner.once('exit', (code) => reject(new Error(`the owner ended (${code}) before its worker's container started`)))
    })
    try {
      const alive = (pid: number) => fs.existsSync(`/proc/${pid}/cmdline`) && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== ''
      expect({ container: alive(started.container), keepers: started.keepers.length }).toEqual({ container: true, keepers: 1 })
    } finally {
      process.kill(started.node, 'SIGKILL')
    }
    const deadline = Date.now() + 5000
    while (pidsOf(user.uid).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    expect(pidsOf(user.uid)).toEqual([])
  })

  test("the owner's SIGKILL kills its container and the runtime's keeper; nothing is left: no process, no mount, no file outside the user's store", async () => {
    // A uid is reused once its user is deleted: what it owned in /tmp before this test (a crashed earlier run's) is not this test's.
    const ownedInTmp = () => fs.readdirSync('/tmp').map((f) => path.join('/tmp', f)).filter((f) => fs.lstatSync(f, { throwIfNoEntry: false })?.uid === user.uid)
    const ownedBefore = new Set(ownedInTmp())
    const owner = user.spawnNode(script(`
  await Image.fromHost({ runtime: rt })
  const c = await run('host', ['sleep', '300'], { runtime: rt, network: 'none' })
  ${keepersLine}
  console.log(JSON.stringify({ node: process.pid, container: (await c.inspect()).state.pid, keepers: keepers() }))
  await new Promise(() => {})`), { HOME: home })
    const started = await new Promise<{ node: number; container: number; keepers: number[] }>((resolve, reject) => {
      let text = ''
      owner.stdout!.on('data', (d: Buffer) => {
        text += d
        if (text.includes('\n')) resolve(JSON.parse(text.split('\n')[0]!))
      })
      owner.once('exit', (code) => reject(new Error(`the owner ended (${code}) before its container started`)))
    })
    expect(fs.readFileSync(`/proc/${started.container}/cmdline`, 'utf8')).toBe('sleep\x00300\x00')
    // The runtime's keeper holds the user namespace the container joined; it dies with its owner too.
    expect(started.keepers).toHaveLength(1)
    expect(fs.readlinkSync(`/proc/${started.keepers[0]}/ns/user`)).toBe(fs.readlinkSync(`/proc/${started.container}/ns/user`))
    process.kill(started.node, 'SIGKILL')
    const deadline = Date.now() + 5000
    while (pidsOf(user.uid).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    expect(pidsOf(user.uid)).toEqual([])
    // The overlay and every other mount lived in the container's mount namespace alone.
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(home)
    // Outside the store (in home) and the state directory, the user owns nothing in /tmp.
    const owned = ownedInTmp().filter((f) => !ownedBefore.has(f) || f === home || f === state)
    expect(owned.sort()).toEqual([home, state].sort())
  })
})
