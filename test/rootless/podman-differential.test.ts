/**
 * Rootless identity against rootless podman (issue 19's differential), as
 * one ordinary user with a subordinate range: the same rootfs tarball (files
 * of uid 0 and 999, a set-uid file) imported by both, the same commands run
 * as root and as user 999: ids inside, /proc/self/uid_map and gid_map, file
 * owners and modes must print the same. Podman runs with runc (crun cannot
 * run on this host), no network, its own storage in a temp home, removed
 * afterwards with `podman system reset`.
 *
 * And `network: 'host'` against podman's `--network host`: the user's own
 * network namespace (the same one, its interfaces, /sys/class/net), no
 * privilege over it (adding a link is refused), a server on the host's
 * loopback reached from inside, and a port bound inside reached from the host.
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { busyboxRootfs } from '../helpers'
import { requireTool } from '../tools/registry'
import { tarOwners } from '../tools/tar-owners'
import { makeUnprivilegedUser, pidsOf, type UnprivilegedUser } from '../tools/unprivileged-user'

const probe = 'id -u; id -g; id -G; cat /proc/self/uid_map /proc/self/gid_map; stat -c "%n %u:%g %a" /data /data/suid /etc/passwd; touch /tmp/t; stat -c "%n %u:%g" /tmp/t'

describe('rootless identity against rootless podman', () => {
  let user: UnprivilegedUser
  let home: string
  let tar: string
  beforeAll(() => {
    requireTool('podman', 'podman')
    requireTool('runc', 'runc')
    user = makeUnprivilegedUser()
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rl-podman-'))
    fs.chownSync(home, user.uid, user.gid)
    const rootfs = busyboxRootfs(fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rl-podman-rootfs-')))
    fs.chmodSync(rootfs, 0o755) // the tar's "." entry: podman gives its mode to the container's /, we do not (yet)
    fs.appendFileSync(path.join(rootfs, 'etc/passwd'), 'app999:x:999:999:app:/data:/bin/sh\n')
    fs.appendFileSync(path.join(rootfs, 'etc/group'), 'app999:x:999:\n')
    fs.mkdirSync(path.join(rootfs, 'data'))
    fs.writeFileSync(path.join(rootfs, 'data/suid'), '#!/bin/sh\n')
    fs.chownSync(path.join(rootfs, 'data/suid'), 999, 999)
    fs.chmodSync(path.join(rootfs, 'data/suid'), 0o4755)
    fs.chownSync(path.join(rootfs, 'data'), 999, 999)
    tar = path.join(home, 'rootfs.tar')
    execFileSync('tar', ['--numeric-owner', '-C', rootfs, '-cf', tar, '.'])
    fs.chmodSync(tar, 0o644)
    fs.rmSync(rootfs, { recursive: true })
  })
  /** What the script run as the user printed last, as JSON. */
  function resultOf(script: string): any {
    const r = user.node(script, [], { HOME: home })
    if (r.status !== 0) throw new Error(`the user's script failed (${r.status}): ${r.stderr}`)
    return JSON.parse(r.stdout)
  }
  afterAll(() => {
    if (user) {
      // podman's own store holds files of the subordinate ids: only podman (in its namespace) can remove them.
      user.node(`require('node:child_process').spawnSync('podman', ['system', 'reset', '--force'], { stdio: 'ignore' })`, [], { HOME: home })
      user.remove()
      // Podman's runtime and tmp dirs (without XDG_RUNTIME_DIR), which a later user of the same uid would find.
      for (const dir of [`/tmp/minicontainer-${user.uid}`, `/tmp/podman-run-${user.uid}`, `/tmp/containers-user-${user.uid}`]) fs.rmSync(dir, { recursive: true, force: true })
    }
    fs.rmSync(home, { recursive: true, force: true })
  })

  test("ids, maps, file owners and modes inside are podman's, as root and as user 999", () => {
    const result = resultOf(
      `;(async () => {
  const { execFileSync } = require('node:child_process')
  const { Runtime, Image, run } = lib()
  const podman = (...args) => execFileSync('podman', ['--runtime', 'runc', ...args], { encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: '' } })
  podman('import', ${JSON.stringify(tar)}, 'localhost/same:latest')
  const rt = new Runtime()
  await Image.import(${JSON.stringify(tar)}, { runtime: rt, ref: 'same:latest' })
  const ours = async (user) => {
    const c = await run('same', ['/bin/sh', '-c', ${JSON.stringify(probe)}], { runtime: rt, network: 'none', ...(user ? { user } : {}) })
    const exit = await c.wait()
    const out = await new Promise((res, rej) => { let s = ''; c.logs().on('data', (d) => (s += d)).on('end', () => res(s)).on('error', rej) })
    await c.remove()
    return { exit: exit.exitCode, out }
  }
  const theirs = (user) => ({ exit: 0, out: podman('run', '--rm', '--network', 'none', ...(user ? ['--user', user] : []), 'localhost/same:latest', '/bin/sh', '-c', ${JSON.stringify(probe)}) })
  const result = { root: [await ours(), theirs()], app: [await ours('999'), theirs('999')] }
  await rt.close({ removeRoot: true })
  console.log(JSON.stringify(result))
})()`,
    )
    const { start } = user.subids
    for (const [ours, podman] of [result.root, result.app]) expect(ours).toEqual(podman)
    // And what both print is podman's layout: 0 -> the user, 1..65536 -> the range; owners kept.
    const lines = (result.root[0].out as string).trim().split('\n')
    expect(lines.slice(0, 3)).toEqual(['0', '0', expect.stringMatching(/^0( |$)/)])
    expect(lines.slice(3, 7).map((l) => l.trim().split(/\s+/))).toEqual([
      ['0', String(user.uid), '1'],
      ['1', String(start), '65536'],
      ['0', String(user.gid), '1'],
      ['1', String(start), '65536'],
    ])
    expect(lines.slice(7)).toEqual(['/data 999:999 755', '/data/suid 999:999 4755', '/etc/passwd 0:0 644', '/tmp/t 0:0'])
    expect((result.app[0].out as string).split('\n').slice(0, 2)).toEqual(['999', '999'])
    // Podman leaves its pause process (catatonit) behind, as the design note says; we leave nothing.
    const ours = pidsOf(user.uid).filter((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').startsWith('mc-shim'))
    expect(ours).toEqual([])
  })

  // podman cp's archive ('podman cp ctr:/p -') is not the reference: it gives every entry the caller's ids (0:0
  // inside); podman export, like Docker's GET /archive and a root runtime's getArchive, keeps the container's.
  test("getArchive's tar headers carry the owners podman export's do (the container's ids: 0 for /etc/passwd, 999 for /data and /data/suid)", async () => {
    const result = resultOf(
      `;(async () => {
  const { execFileSync } = require('node:child_process')
  const { Runtime, Image, run } = lib()
  const podman = (...args) => execFileSync('podman', ['--runtime', 'runc', ...args], { env: { ...process.env, XDG_RUNTIME_DIR: '' } })
  podman('import', ${JSON.stringify(tar)}, 'localhost/same:latest')
  const rt = new Runtime()
  await Image.import(${JSON.stringify(tar)}, { runtime: rt, ref: 'same:latest' })
  const c = await run('same', ['true'], { runtime: rt, network: 'none' })
  await c.wait()
  const id = podman('create', '--network', 'none', 'localhost/same:latest', 'true').toString().trim()
  const result = { ours: [] }
  for (const p of ['/etc/passwd', '/data']) {
    const chunks = []
    for await (const d of (await c.getArchive(p)).stream) chunks.push(d)
    result.ours.push(Buffer.concat(chunks).toString('base64'))
  }
  podman('export', '-o', require('node:path').join(process.env.HOME, 'export.tar'), id) // read by the test
  podman('rm', id)
  await c.remove()
  await rt.close({ removeRoot: true })
  console.log(JSON.stringify(result))
})()`,
    )
    const [passwd, data] = await Promise.all(result.ours.map((b: string) => tarOwners(Buffer.from(b, 'base64'))))
    const exported = await tarOwners(fs.readFileSync(path.join(home, 'export.tar')))
    const theirs = (name: string) => exported[name] ?? exported[`./${name}`]
    expect({ passwd: passwd.passwd, data: data.data, suid: data['data/suid'] }).toEqual({ passwd: theirs('etc/passwd'), data: theirs('data'), suid: theirs('data/suid') })
    expect([passwd.passwd, data.data, data['data/suid']]).toEqual(['0:0', '999:999', '999:999'])
  })

  test("network: 'host' is podman's --network host: the user's namespace, no privilege over it, loopback both ways", () => {
    const probe = 'readlink /proc/self/ns/net; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sort | tr "\\n" " "; echo; ls /sys/class/net | tr "\\n" " "; echo; ip link add mcdummy0 type dummy 2>&1; echo "add: $?"; nc 127.0.0.1 "$1" </dev/null'
    const result = resultOf(
      `;(async () => {
  const { execFile } = require('node:child_process')
  const net = require('node:net')
  const { Runtime, Image, run } = lib()
  // Not execFileSync: the host's server below answers podman's container from this event loop.
  const podman = (...args) => new Promise((res, rej) => execFile('podman', ['--runtime', 'runc', ...args], { encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: '' } }, (err, out) => (err ? rej(err) : res(out))))
  await podman('import', ${JSON.stringify(tar)}, 'localhost/same:latest')
  const rt = new Runtime()
  await Image.import(${JSON.stringify(tar)}, { runtime: rt, ref: 'same:latest' })
  // The app under test on the host's loopback: it greets whoever connects.
  const server = net.createServer((s) => s.end('hello from the host\\n'))
  await new Promise((res) => server.listen(0, '127.0.0.1', res))
  const port = String(server.address().port)
  const freePort = () => new Promise((res) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)) }) })
  // What a client on the host reads from a server the container runs on 127.0.0.1:p (retried while it starts).
  const fromInside = async (p) => {
    for (let i = 0; i < 100; i++) {
      const got = await new Promise((res) => { let s = ''; const c = net.connect(p, '127.0.0.1', () => c.end()).on('data', (d) => (s += d)).on('end', () => res(s)).on('error', () => res(undefined)) })
      if (got) return got
      await new Promise((r) => setTimeout(r, 50))
    }
    return 'nothing'
  }
  const logs = (c) => new Promise((res, rej) => { let s = ''; c.logs().on('data', (d) => (s += d)).on('end', () => res(s)).on('error', rej) })
  const ours = async () => {
    const c = await run('same', ['/bin/sh', '-c', ${JSON.stringify(probe)}, 'sh', port], { runtime: rt, network: 'host' })
    const exit = await c.wait()
    const out = await logs(c)
    await c.remove()
    const p = await freePort()
    const d = await run('same', ['/bin/sh', '-c', 'echo hello from inside | nc -l -p ' + p], { runtime: rt, network: 'host' })
    const served = await fromInside(p)
    await d.wait()
    await d.remove()
    // exec joins the container's namespaces: the network one is still the user's.
    const e = await run('same', ['sleep', '30'], { runtime: rt, network: 'host' })
    const execNetns = (await e.exec(['readlink', '/proc/self/ns/net'])).stdout
    await e.remove({ force: true })
    return { exit: exit.exitCode, out, served, execNetns }
  }
  const theirs = async () => {
    const out = await podman('run', '--rm', '--network', 'host', 'localhost/same:latest', '/bin/sh', '-c', ${JSON.stringify(probe)}, 'sh', port)
    const p = await freePort()
    const id = (await podman('run', '-d', '--network', 'host', 'localhost/same:latest', '/bin/sh', '-c', 'echo hello from inside | nc -l -p ' + p)).trim()
    const served = await fromInside(p)
    await podman('wait', id)
    await podman('rm', id)
    const execNetns = (await podman('run', '--rm', '--network', 'host', 'localhost/same:latest', 'readlink', '/proc/self/ns/net'))
    return { exit: 0, out, served, execNetns }
  }
  const result = { ours: await ours(), theirs: await theirs(), userNetns: require('node:fs').readlinkSync('/proc/self/ns/net') }
  server.close()
  await rt.close({ removeRoot: true })
  console.log(JSON.stringify(result))
})()`,
    )
    // The host's links (lines 2 and 3) may change between the two runs: other runtimes on the machine make bridges.
    const withoutLinks = (r: { out: string }) => ({ ...r, out: r.out.split('\n').filter((_, i) => i !== 1 && i !== 2) })
    expect(withoutLinks(result.ours)).toEqual(withoutLinks(result.theirs))
    const [netns, links, sysLinks, ...rest] = (result.ours.out as string).split('\n')
    expect(netns).toBe(result.userNetns)
    for (const side of [result.ours, result.theirs]) {
      const [, seen, inSys] = (side.out as string).split('\n')
      expect(seen!.trim().split(' ')).toEqual(expect.arrayContaining(['lo', 'eth0']))
      expect(inSys!.trim().split(' ')).toEqual(expect.arrayContaining(['lo', 'eth0']))
    }
    expect(sysLinks!.trim().split(' ').sort()).toEqual(links!.trim().split(' ').sort())
    expect(rest.join('\n')).toMatch(/Operation not permitted\nadd: \d+\nhello from the host\n/)
    expect(result.ours.served).toBe('hello from inside\n')
    expect(result.ours.execNetns).toBe(`${result.userNetns}\n`)
  })
})
