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
import { execFileSync, spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { busyboxRootfs } from '../helpers'
import { requireTool } from '../tools/registry'
import { tarOwners } from '../tools/tar-owners'
import { readOnlyWithNotes, writePaxArchive } from '../tools/pax-archive'
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

  // podman cp - ctr:/dir (a tar on stdin) is the reference for where entries land, their contents, modes and user.*
  // attributes; not for owners: it gives every entry the caller's ids (0:0 inside), where putArchive keeps the archive's.
  test("an archive into directories only 999 may search (read-only entries with user.* attributes, entries crossing a volume there) lands as with podman cp: contents, modes and attributes", () => {
    const archive = path.join(home, 'attrs.tar')
    writePaxArchive(archive, [
      ...readOnlyWithNotes,
      { name: 'm/vol/f', mode: 0o640, uid: 1234, data: 'v\n' },
      { name: 'm/vol/sub', mode: 0o700, uid: 999, note: 'on sub' },
      { name: 'm/vol/sub/g', mode: 0o400, uid: 999, note: 'on g', data: 'g\n' },
    ])
    // Each side's volume: a host directory of the container's 999 (a subordinate id), which the user may not search.
    const vols = { ours: path.join(home, 'vol-ours'), theirs: path.join(home, 'vol-theirs') }
    for (const vol of Object.values(vols)) {
      fs.mkdirSync(vol, { mode: 0o700 })
      fs.chownSync(vol, user.subids.start + 998, user.subids.start + 998)
    }
    const setup = 'chown 999:999 /data/m && chmod 700 /data/m && mkdir -m 700 /data/d && chown 999:999 /data/d && echo ready && sleep 300'
    const look = 'cat /data/d/f /data/m/vol/f /data/m/vol/sub/g; stat -c "%a %n" /data/d /data/d/f /data/m /data/m/vol /data/m/vol/f /data/m/vol/sub /data/m/vol/sub/g; ls -a /data /data/m'
    const result = resultOf(
      `;(async () => {
  const { execFileSync } = require('node:child_process')
  const { Runtime, Image, run } = lib()
  const env = { ...process.env, XDG_RUNTIME_DIR: '' }
  const podman = (...args) => execFileSync('podman', ['--runtime', 'runc', ...args], { encoding: 'utf8', env })
  podman('import', ${JSON.stringify(tar)}, 'localhost/same:latest')
  const rt = new Runtime()
  await Image.import(${JSON.stringify(tar)}, { runtime: rt, ref: 'same:latest' })
  const logs = (c) => new Promise((res, rej) => { let s = ''; c.logs().on('data', (d) => (s += d)).on('end', () => res(s)).on('error', rej) })
  const c = await run('same', ['sh', '-c', ${JSON.stringify(setup)}], { runtime: rt, network: 'none', volumes: [${JSON.stringify(vols.ours)} + ':/data/m/vol'] })
  for (let i = 0; i < 200 && !(await logs(c)).includes('ready'); i++) await new Promise((r) => setTimeout(r, 25))
  await c.putArchive('/data', require('node:fs').createReadStream(${JSON.stringify(archive)}))
  const ours = { seen: (await c.exec(['sh', '-c', ${JSON.stringify(look)}])).stdout, owners: (await c.exec(['stat', '-c', '%u:%g %n', '/data/d', '/data/d/f', '/data/m/vol/sub/g'])).stdout }
  await c.stop({ timeout: 0 })
  ours.upper = require('node:path').join(rt.root, 'containers', c.id, 'upper')
  const id = podman('run', '-d', '--network', 'none', '-v', ${JSON.stringify(vols.theirs)} + ':/data/m/vol', 'localhost/same:latest', 'sh', '-c', ${JSON.stringify(setup)}).trim()
  while (!podman('logs', id).includes('ready')) await new Promise((r) => setTimeout(r, 25))
  execFileSync('sh', ['-c', 'podman --runtime runc cp - "$1":/data < "$2"', 'sh', id, ${JSON.stringify(archive)}], { env })
  // Podman's container directory (vfs or overlay), read as root of podman's namespace: 999's 0500 /data/d is closed to the user.
  const notes = 'for f in "$1/data/d" "$1/data/d/f"; do getfattr --only-values -n user.note "$f"; echo; done'
  const theirs = { seen: podman('exec', id, 'sh', '-c', ${JSON.stringify(look)}), notes: podman('unshare', 'sh', '-c', 'd=$(podman --runtime runc mount "$1") && sh -c "$2" sh "$d"', 'sh', id, notes) }
  podman('rm', '-f', '-t', '0', id)
  console.log(JSON.stringify({ ours, theirs, id: c.id }))
})()`,
    )
    try {
      expect(result.ours.seen).toBe(result.theirs.seen)
      expect(result.ours.seen).toMatch(/^f\nv\ng\n500 \/data\/d\n444 \/data\/d\/f\n700 \/data\/m\n700 \/data\/m\/vol\n640 [^\n]+\n700 [^\n]+\n400 [^\n]+\n/)
      // Owners: the archive's (podman cp's would be 0:0).
      expect(result.ours.owners).toBe('999:999 /data/d\n1234:1234 /data/d/f\n999:999 /data/m/vol/sub/g\n')
      const note = (file: string) => spawnSync('getfattr', ['--only-values', '-n', 'user.note', file], { encoding: 'utf8' }).stdout
      // The attributes, observed as root: on the volumes, and in each container's own directory (our upper dir; podman's, mounted).
      for (const vol of Object.values(vols)) expect([note(path.join(vol, 'sub')), note(path.join(vol, 'sub/g'))]).toEqual(['on sub', 'on g'])
      expect([note(path.join(result.ours.upper, 'data/d')), note(path.join(result.ours.upper, 'data/d/f'))]).toEqual(['on d', 'on f'])
      expect(result.theirs.notes).toBe('on d\non f\n')
    } finally {
      resultOf(`;(async () => { const rt = new (lib().Runtime)(); await (await lib().Container.get(${JSON.stringify(result.id)}, { runtime: rt })).remove(); await rt.close({ removeRoot: true }); console.log('{}') })()`)
    }
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
    let served = await fromInside(p)
    // What the server said of itself when nothing was served (a failure to read, not an expected value).
    if (served === 'nothing') served += ' | exit ' + JSON.stringify(await d.wait()) + ' | logs ' + JSON.stringify(await logs(d))
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
