/**
 * Rootless identity (issue 19; the design brief's checks 2, 3, 5, 7, 13
 * and 15), as ordinary users the test makes: with a subordinate range, one
 * keeper per runtime holds the user namespace every container joins (0 is
 * the user, 1..N the range); image files keep their owners (uid u inside
 * is subuid start+u-1 on the host) through import and load; a non-root
 * USER works; an id beyond the range is EIDRANGE, or squashed on request;
 * removing containers and images leaves no file of a subordinate id, and
 * close() leaves no keeper. Without a range: one id, one warning, and a
 * non-root user is EUNSUPPORTED naming the fix.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Container, Image, run } from '../../lib'
import { busyboxRootfs, destroyRuntime, tempRuntime } from '../helpers'
import { startRegistry } from '../tools/registry'
import { keepersLine } from '../tools/keepers'
import { tarOwners } from '../tools/tar-owners'
import { readOnlyWithNotes, writePaxArchive } from '../tools/pax-archive'
import { makeUnprivilegedUser, pidsOf, type UnprivilegedUser } from '../tools/unprivileged-user'

/** Lines of a script run as the user: `rt` (options `rtOpts`), `logs(c)`, `keepers()`, `warnings`, and `out` printed as JSON at the end. */
function script(body: string, rtOpts = '{}'): string {
  return `;(async () => {
  const { Runtime, Image, run } = lib()
  const fs = require('node:fs'), path = require('node:path')
  const warnings = []
  process.on('warning', (w) => warnings.push({ code: w.code, message: w.message }))
  const logs = (c) => new Promise((res, rej) => { let s = ''; c.logs().on('data', (d) => (s += d)).on('end', () => res(s)).on('error', rej) })
  ${keepersLine}
  const out = {}
  const step = async (name, f) => { try { out[name] = await f() } catch (e) { out[name] = { code: e.code, message: e.message } } }
  const rt = new Runtime(${rtOpts})
  ${body}
  if (!out.removedRoot) await rt.close()
  out.warnings = warnings
  console.log(JSON.stringify(out))
})()`
}

/** Files and directories below `dir` (not following symlinks) whose uid or gid lies in [start, start + count). */
function ownedByRange(dir: string, start: number, count: number): string[] {
  const found: string[] = []
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d)) {
      const p = path.join(d, name)
      const st = fs.lstatSync(p)
      if ((st.uid >= start && st.uid < start + count) || (st.gid >= start && st.gid < start + count)) found.push(p)
      if (st.isDirectory()) walk(p)
    }
  }
  walk(dir)
  return found
}

/** A busybox rootfs with `app` (999) owning /data, a set-uid /data/suid, and `extra` applied (as root, readable by all). */
function imageDir(parent: string, name: string, extra: (dir: string) => void = () => {}): string {
  const dir = busyboxRootfs(path.join(parent, name))
  fs.appendFileSync(path.join(dir, 'etc/passwd'), 'app999:x:999:999:app:/data:/bin/sh\n')
  fs.appendFileSync(path.join(dir, 'etc/group'), 'app999:x:999:\n')
  fs.mkdirSync(path.join(dir, 'data'), { mode: 0o755 })
  fs.writeFileSync(path.join(dir, 'data/suid'), '#!/bin/sh\n', { mode: 0o755 })
  fs.chownSync(path.join(dir, 'data/suid'), 999, 999)
  fs.chmodSync(path.join(dir, 'data/suid'), 0o4755)
  fs.chownSync(path.join(dir, 'data'), 999, 999)
  extra(dir)
  return dir
}

async function streamBytes(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const d of stream) chunks.push(d as Buffer)
  return Buffer.concat(chunks)
}

describe('rootless identity, as an ordinary user with a subordinate range', () => {
  let user: UnprivilegedUser
  let home: string
  let images: string
  let state: string
  const asUser = (body: string, rtOpts?: string) => {
    const r = user.node(script(body, rtOpts), [], { HOME: home })
    if (r.status !== 0) throw new Error(`the user's script failed (${r.status}): ${r.stderr}`)
    return JSON.parse(r.stdout)
  }
  beforeAll(() => {
    user = makeUnprivilegedUser()
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rl-ids-'))
    fs.chownSync(home, user.uid, user.gid)
    images = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rl-img-'))
    fs.chmodSync(images, 0o755)
    imageDir(images, 'owned', (dir) => {
      // A home of uid 1000, writable by it alone (copies into it go through the keeper).
      fs.mkdirSync(path.join(dir, 'home/user'), { recursive: true, mode: 0o755 })
      fs.chownSync(path.join(dir, 'home/user'), 1000, 1000)
      // A lower directory a container remakes (opaque) and one it removes a file of (a whiteout).
      for (const d of ['opq', 'gone']) fs.mkdirSync(path.join(dir, d))
      for (const f of ['opq/a', 'opq/b', 'gone/a', 'gone/b']) fs.writeFileSync(path.join(dir, f), 'lower\n')
      // A file capability, as ping's: set by root here, carried by the layer's PAX records.
      fs.writeFileSync(path.join(dir, 'data/attr'), 'tagged\n')
      fs.chownSync(path.join(dir, 'data/attr'), 999, 999)
      execFileSync('setfattr', ['-n', 'user.note', '-v', `0x${'ab'.repeat(600)}`, path.join(dir, 'data/attr')])
      fs.copyFileSync(path.join(dir, 'bin/busybox'), path.join(dir, 'bin/busyboxcap'))
      execFileSync('setcap', ['cap_net_raw+ep', path.join(dir, 'bin/busyboxcap')])
    })
    imageDir(images, 'high', (dir) => {
      fs.mkdirSync(path.join(dir, 'big'))
      fs.writeFileSync(path.join(dir, 'big/f'), 'far\n')
      fs.chownSync(path.join(dir, 'big/f'), 70000, 70000)
    })
    state = `/tmp/minicontainer-${user.uid}`
  })
  afterAll(() => {
    for (const dir of [home, images, state]) fs.rmSync(dir, { recursive: true, force: true })
    user.remove()
  })

  test("containers join the keeper's one user namespace (0 -> the user, 1.. -> the range); files keep their owners; USER 999 works; close() ends the keeper", () => {
    const out = asUser(`
  await Image.import(${JSON.stringify(path.join(images, 'owned'))}, { runtime: rt, ref: 'owned:latest' })
  const a = await run('owned', ['sh', '-c', 'id -u; cat /proc/self/uid_map; readlink /proc/self/ns/user; stat -c %u:%g /data; stat -c %a:%u /data/suid'], { runtime: rt, network: 'none' })
  out.a = { exit: await a.wait(), logs: await logs(a) }
  const b = await run('owned', ['sh', '-c', 'id -u; id -g; readlink /proc/self/ns/user; touch /data/by999'], { runtime: rt, network: 'none', user: '999' })
  out.b = { exit: await b.wait(), logs: await logs(b) }
  out.keepers = keepers()
  out.keeperNs = fs.readlinkSync('/proc/' + out.keepers[0] + '/ns/user')
  out.written = fs.lstatSync(path.join(rt.root, 'containers', b.id, 'upper/data/by999')).uid
  const layers = fs.readdirSync(path.join(rt.root, 'layers')).filter((d) => d.startsWith('sha256-'))
  out.layerData = layers.map((d) => fs.lstatSync(path.join(rt.root, 'layers', d, 'diff/data'))).map((s) => [s.uid, s.gid])
  out.layerSuid = layers.map((d) => fs.lstatSync(path.join(rt.root, 'layers', d, 'diff/data/suid'))).map((s) => [s.uid, s.mode & 0o7777])
  await a.remove()
  await b.remove()`)
    const { start, count } = user.subids
    expect(out.a.exit).toEqual({ exitCode: 0 })
    const a = out.a.logs.split('\n')
    expect(a[0]).toBe('0')
    expect([a[1], a[2]].map((l: string) => l.trim().split(/\s+/))).toEqual([
      ['0', String(user.uid), '1'],
      ['1', String(start), String(count)],
    ])
    expect(a.slice(4, 6)).toEqual(['999:999', '4755:999'])
    // One namespace, the keeper's, for both containers: joined, not made per start.
    expect(out.keepers).toHaveLength(1)
    expect(a[3]).toBe(out.keeperNs)
    expect(out.b).toEqual({ exit: { exitCode: 0 }, logs: `999\n999\n${out.keeperNs}\n` })
    // On the host, uid u inside is start+u-1: the layer's files and what the container wrote.
    expect(out.written).toBe(start + 998)
    expect(out.layerData).toEqual([[start + 998, start + 998]])
    expect(out.layerSuid).toEqual([[start + 998, 0o4755]])
    expect(out.warnings).toEqual([])
    // close() ended the keeper, and nothing else of the user runs.
    expect(pidsOf(user.uid)).toEqual([])
  })

  test('file capabilities survive the unpack (written inside the namespace): user 999 running /bin/busyboxcap has cap_net_raw', () => {
    const out = asUser(`
  await Image.import(${JSON.stringify(path.join(images, 'owned'))}, { runtime: rt, ref: 'owned:latest' })
  const c = await run('owned', ['sh', '-c', '/bin/busyboxcap grep CapEff /proc/self/status; grep CapEff /proc/self/status'], { runtime: rt, network: 'none', user: '999' })
  out.exit = await c.wait()
  out.logs = await logs(c)
  await c.remove()`)
    expect(out.exit).toEqual({ exitCode: 0 })
    // CAP_NET_RAW is bit 13; the shell itself, as user 999, has none.
    expect(out.logs.split('\n').map((l: string) => l.replace(/\s+/g, ' '))).toEqual(['CapEff: 0000000000002000', 'CapEff: 0000000000000000', ''])
  })

  test("userns: 'keep-id' maps the user's ids to themselves in a namespace nested in the keeper's: a bind mount is written as the user; exec joins it", () => {
    const shared = path.join(home, 'shared')
    fs.mkdirSync(shared)
    fs.chownSync(shared, user.uid, user.gid)
    const out = asUser(`
  await Image.import(${JSON.stringify(path.join(images, 'owned'))}, { runtime: rt, ref: 'owned:latest' })
  const c = await run('owned', ['sh', '-c', 'id -u; id -g; cat /proc/self/uid_map; stat -c %u:%g /work /etc/passwd; echo hi > /work/made; sleep 300'], { runtime: rt, network: 'none', userns: 'keep-id', volumes: [${JSON.stringify(shared)} + ':/work'] })
  for (let i = 0; i < 200 && !(await logs(c)).includes('/etc/passwd'); i++) await new Promise((r) => setTimeout(r, 25))
  out.logs = await logs(c)
  await step('exec', () => c.exec(['sh', '-c', 'id -u; readlink /proc/self/ns/user']))
  out.containerNs = fs.readlinkSync('/proc/' + (await c.inspect()).state.pid + '/ns/user')
  out.keeperNs = fs.readlinkSync('/proc/' + keepers()[0] + '/ns/user')
  await c.remove({ force: true })`)
    const uid = user.uid
    const lines = (out.logs as string).trim().split('\n')
    expect(lines.slice(0, 2)).toEqual([String(uid), String(user.gid)])
    expect(lines.slice(2, 5).map((l: string) => l.trim().split(/\s+/).map(Number))).toEqual([
      [0, 1, uid],
      [uid, 0, 1],
      [uid + 1, uid + 1, 65536 - uid],
    ])
    // The bind mount is the user's inside, and so are the image's root files (as with podman's keep-id without a chowned copy).
    expect(lines.slice(5)).toEqual([`${uid}:${user.gid}`, `${uid}:${user.gid}`])
    expect(fs.statSync(path.join(shared, 'made')).uid).toBe(uid)
    expect(out.exec).toEqual({ exitCode: 0, stdout: `${uid}\n${out.containerNs}\n`, stderr: '' })
    expect(out.containerNs).not.toBe(out.keeperNs)
  })

  test("userns: 'keep-id' on a user network: the nested namespace's container has its address, reaches a peer by name and is reached; exec joins it; /sys is bound read-only", () => {
    const out = asUser(`
  await Image.import(${JSON.stringify(path.join(images, 'owned'))}, { runtime: rt, ref: 'owned:latest' })
  const net = await lib().Network.create('kid-net', { runtime: rt })
  const peer = await run('owned', ['nc', '-ll', '-p', '7000', '-e', 'echo', 'from-peer'], { runtime: rt, name: 'kid-peer', network: 'kid-net' })
  await step('kid', async () => {
    const c = await run('owned', ['sh', '-c', 'id -u; ip -o -4 addr show eth0 | grep -o "inet [0-9.]*"; for i in 1 2 3 4 5 6 7 8 9 10; do nc kid-peer 7000 </dev/null && break; sleep 0.1; done; nc -l -p 7001 -e echo from-kid'], { runtime: rt, name: 'kid', network: 'kid-net', userns: 'keep-id' })
    for (let i = 0; i < 200 && !(await logs(c)).includes('from-peer'); i++) await new Promise((r) => setTimeout(r, 25))
    const ip = (await c.inspect()).networkSettings.networks['kid-net'].ipAddress
    const exec = await c.exec(['sh', '-c', 'id -u; ip -o -4 addr show eth0 | grep -o "inet [0-9.]*"; grep -qE "^([^ ]+ ){4}/sys ro," /proc/self/mountinfo && echo sys-ro'])
    const back = await run('owned', ['sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do nc kid 7001 </dev/null && break; sleep 0.1; done'], { runtime: rt, network: 'kid-net' })
    await back.wait()
    const result = { ip, logs: await logs(c), exec, back: await logs(back) }
    await back.remove()
    await c.remove({ force: true })
    return result
  })
  await peer.remove({ force: true })
  await net.remove()`)
    expect(out.kid).toMatchObject({ ip: expect.stringMatching(/^(\d+\.){3}\d+$/) })
    expect(out.kid.logs).toBe(`${user.uid}\ninet ${out.kid.ip}\nfrom-peer\n`)
    // /sys is the host's, bound read-only (a sysfs mount needs CAP_SYS_ADMIN over the keeper's namespace, which owns the network).
    expect(out.kid.exec).toEqual({ exitCode: 0, stdout: `${user.uid}\ninet ${out.kid.ip}\nsys-ro\n`, stderr: '' })
    expect(out.kid.back).toBe('from-kid\n')
  })

  test("copies and archives into directories of other ids inside (/home/user of 1000, /data of 999) land through the keeper, as the user's (root inside); running or stopped; a file and a directory (files, a subdirectory, a symlink, a FIFO) only 999 reads are copied and archived out through the keeper", () => {
    const out = asUser(`
  await Image.import(${JSON.stringify(path.join(images, 'owned'))}, { runtime: rt, ref: 'owned:latest' })
  const c = await run('owned', ['sh', '-c', 'echo secret > /data/s && chmod 600 /data/s && mkdir -m 700 /data/d /data/d/sub && echo x > /data/d/f && echo y > /data/d/sub/g && chmod 600 /data/d/f /data/d/sub/g && ln -s f /data/d/link && mkfifo /data/d/fifo && echo ready && sleep 300'], { runtime: rt, network: 'none', user: '999' })
  for (let i = 0; i < 200 && !(await logs(c)).includes('ready'); i++) await new Promise((r) => setTimeout(r, 25))
  fs.writeFileSync(path.join(process.env.HOME, 'in.txt'), 'in\\n')
  await step('into', () => c.copyTo(path.join(process.env.HOME, 'in.txt'), '/home/user/in.txt'))
  await step('intoDir', () => c.copyTo(path.join(process.env.HOME, 'in.txt'), '/data/'))
  await step('replace', () => c.copyTo(path.join(process.env.HOME, 'in.txt'), '/home/user/in.txt'))
  await step('own', () => c.copyTo(path.join(process.env.HOME, 'in.txt'), '/tmp/put.txt'))
  await step('put', async () => c.putArchive('/home/user', (await c.getArchive('/tmp/put.txt')).stream))
  out.seen = await c.exec(['sh', '-c', 'cat /home/user/in.txt /data/in.txt /home/user/put.txt; stat -c "%u:%g %n" /home/user/in.txt /data/in.txt /home/user/put.txt /home/user; ls -a /home/user /data'])
  await step('back', async () => {
    await c.copyFrom('/home/user/in.txt', path.join(process.env.HOME, 'back.txt'))
    const st = fs.statSync(path.join(process.env.HOME, 'back.txt'))
    return [fs.readFileSync(path.join(process.env.HOME, 'back.txt'), 'utf8'), st.uid === process.getuid()]
  })
  await step('outOf', async () => {
    await c.copyFrom('/data/s', path.join(process.env.HOME, 's.out'))
    const st = fs.statSync(path.join(process.env.HOME, 's.out'))
    return [fs.readFileSync(path.join(process.env.HOME, 's.out'), 'utf8'), st.uid === process.getuid(), (st.mode & 0o777).toString(8)]
  })
  await step('archiveOut', async () => {
    const { stream } = await c.getArchive('/data/s')
    const chunks = []
    for await (const d of stream) chunks.push(d)
    const tar = Buffer.concat(chunks)
    // One entry: its name, then its body after the 512-byte header.
    return [tar.subarray(0, 100).toString().replace(/\\0+$/, ''), tar.subarray(512, 519).toString()]
  })
  await step('dirOut', async () => {
    const d = path.join(process.env.HOME, 'd.out')
    await c.copyFrom('/data/d', d)
    const st = (p) => fs.lstatSync(path.join(d, p))
    return {
      f: fs.readFileSync(path.join(d, 'f'), 'utf8'),
      g: fs.readFileSync(path.join(d, 'sub/g'), 'utf8'),
      link: fs.readlinkSync(path.join(d, 'link')),
      fifo: st('fifo').isFIFO(),
      modes: ['.', 'sub', 'f'].map((p) => (st(p).mode & 0o777).toString(8)),
      mine: ['.', 'sub', 'f', 'sub/g', 'link', 'fifo'].every((p) => st(p).uid === process.getuid()),
    }
  })
  await step('dirArchive', async () => {
    const { stream } = await c.getArchive('/data/d')
    const chunks = []
    for await (const d of stream) chunks.push(d)
    const tar = Buffer.concat(chunks)
    // Each entry: name, type flag, and a file's body (512-byte headers, bodies padded to 512).
    const entries = []
    for (let at = 0; at + 512 <= tar.length && tar[at] !== 0; ) {
      const field = (from, len) => tar.subarray(at + from, at + from + len).toString().replace(/\\0.*$/s, '')
      const size = parseInt(field(124, 12) || '0', 8)
      entries.push([field(0, 100), field(156, 1), field(157, 100) || tar.subarray(at + 512, at + 512 + size).toString()])
      at += 512 + Math.ceil(size / 512) * 512
    }
    return entries.sort()
  })
  await c.kill()
  await c.wait()
  await step('stopped', async () => {
    await c.copyTo(path.join(process.env.HOME, 'in.txt'), '/home/user/stopped.txt')
    await c.copyFrom('/home/user/stopped.txt', path.join(process.env.HOME, 'stopped.txt'))
    return fs.readFileSync(path.join(process.env.HOME, 'stopped.txt'), 'utf8')
  })
  await c.remove({ force: true })`)
    for (const done of [out.into, out.intoDir, out.replace, out.own, out.put]) expect(done).toBeUndefined()
    // A stopped container's files (assembled for the call) too.
    expect(out.stopped).toBe('in\n')
    expect(out.seen.exitCode).toBe(0)
    const lines = out.seen.stdout.split('\n')
    expect(lines.slice(0, 6)).toEqual(['in', 'in', 'in', '0:0 /home/user/in.txt', '0:0 /data/in.txt', '0:0 /home/user/put.txt'])
    expect(lines[6]).toBe('1000:1000 /home/user')
    // No staging directory is left in either.
    expect(out.seen.stdout).not.toContain('.mc-')
    expect(out.back).toEqual(['in\n', true])
    expect(out.outOf).toEqual(['secret\n', true, '600'])
    expect(out.archiveOut).toEqual(['s', 'secret\n'])
    expect(out.dirOut).toEqual({ f: 'x\n', g: 'y\n', link: 'f', fifo: true, modes: ['700', '700', '600'], mine: true })
    expect(out.dirArchive).toEqual([
      ['d/', '5', ''],
      ['d/f', '0', 'x\n'],
      ['d/fifo', '6', ''],
      ['d/link', '2', 'f'],
      ['d/sub/', '5', ''],
      ['d/sub/g', '0', 'y\n'],
    ])
  })

  test("copies out through a directory only another id may search (/data/d 0700 of 999), and of a directory's contents (/.), resolve through the keeper confined to the container's root: symlinks pointing out stay inside", () => {
    fs.writeFileSync(path.join(home, 'host.txt'), 'HOST\n')
    fs.chownSync(path.join(home, 'host.txt'), user.uid, user.gid)
    const out = asUser(`
  await Image.import(${JSON.stringify(path.join(images, 'owned'))}, { runtime: rt, ref: 'owned:latest' })
  const c = await run('owned', ['sh', '-c', 'mkdir -m 700 /data/d /data/d/e && echo x > /data/d/e/f && echo top > /data/d/t && chmod 600 /data/d/e/f /data/d/t && ln -s /data/d/e/f /data/d/abs && ln -s ' + process.env.HOME + ' /data/d/home && ln -s ../../../../.. /data/d/up && echo ready && sleep 300'], { runtime: rt, network: 'none', user: '999' })
  for (let i = 0; i < 200 && !(await logs(c)).includes('ready'); i++) await new Promise((r) => setTimeout(r, 25))
  const dest = (n) => path.join(process.env.HOME, n)
  const read = (n) => fs.readFileSync(dest(n), 'utf8')
  const tarNames = async (p) => {
    const { stream } = await c.getArchive(p)
    const chunks = []
    for await (const d of stream) chunks.push(d)
    const tar = Buffer.concat(chunks)
    const names = []
    for (let at = 0; at + 512 <= tar.length && tar[at] !== 0; ) {
      names.push(tar.subarray(at, at + 100).toString().replace(/\\0.*$/s, ''))
      at += 512 + Math.ceil(parseInt(tar.subarray(at + 124, at + 136).toString().replace(/\\0.*$/s, '') || '0', 8) / 512) * 512
    }
    return names.sort()
  }
  await step('through', async () => (await c.copyFrom('/data/d/e/f', dest('f.out')), [read('f.out'), fs.statSync(dest('f.out')).uid === process.getuid()]))
  await step('throughDir', async () => (await c.copyFrom('/data/d/e', dest('e.out')), read('e.out/f')))
  await step('contents', async () => (await c.copyFrom('/data/d/.', dest('c.out')), fs.readdirSync(dest('c.out')).sort()))
  await step('followed', async () => (await c.copyFrom('/data/d/abs', dest('abs.out'), { followLink: true }), read('abs.out')))
  await step('archiveThrough', () => tarNames('/data/d/e/f'))
  await step('archiveContents', () => tarNames('/data/d/.'))
  // Symlinks inside pointing out (absolute to a host path, or climbing above /) resolve below the container's root.
  await step('outAbs', () => c.copyFrom('/data/d/home/host.txt', dest('esc1')))
  await step('outUp', () => c.copyFrom('/data/d/up' + process.env.HOME + '/host.txt', dest('esc2')))
  await step('outFollow', () => c.copyFrom('/data/d/home/', dest('esc3')))
  await step('outArchive', () => tarNames('/data/d/up' + process.env.HOME + '/host.txt'))
  await step('upInside', async () => (await c.copyFrom('/data/d/up/data/d/t', dest('t.out')), read('t.out')))
  out.leaked = ['esc1', 'esc2', 'esc3'].filter((n) => fs.existsSync(dest(n)))
  await c.remove({ force: true })`)
    // Nothing of the host's reached through a symlink pointing out (checked first: they fail first if unconfined).
    expect(out.leaked).toEqual([])
    for (const escaped of [out.outAbs, out.outUp, out.outFollow, out.outArchive]) expect(escaped).toMatchObject({ code: 'ENOTFOUND' })
    expect(out.through).toEqual(['x\n', true])
    expect(out.throughDir).toBe('x\n')
    expect(out.contents).toEqual(['abs', 'e', 'home', 't', 'up'])
    expect(out.followed).toBe('x\n')
    expect(out.archiveThrough).toEqual(['f'])
    expect(out.archiveContents).toEqual(['abs', 'e/', 'e/f', 'home', 't', 'up'])
    expect(out.upInside).toBe('top\n')
  })

  test("copies, archives and statPath through a directory only another id may search (/data/d 0700 of 999) resolve through the keeper confined to the container's root: files land in /data/d/e as root's, symlinks there are followed inside, their linkTarget named; a landing directory only 999 may search takes the copy too", () => {
    const out = asUser(`
  await Image.import(${JSON.stringify(path.join(images, 'owned'))}, { runtime: rt, ref: 'owned:latest' })
  const c = await run('owned', ['sh', '-c', 'mkdir -m 700 /data/d /data/d/p && mkdir -m 755 /data/d/e && ln -s e /data/d/le && ln -s /data/d/e/x /data/d/abs && ln -s ../../.. /data/d/up && ln -s ' + process.env.HOME + ' /data/d/home && echo ready && sleep 300'], { runtime: rt, network: 'none', user: '999' })
  for (let i = 0; i < 200 && !(await logs(c)).includes('ready'); i++) await new Promise((r) => setTimeout(r, 25))
  const src = (n) => path.join(process.env.HOME, n)
  fs.writeFileSync(src('in.txt'), 'in\\n')
  fs.mkdirSync(src('tree'))
  fs.writeFileSync(src('tree/t'), 't\\n')
  await step('file', () => c.copyTo(src('in.txt'), '/data/d/e/x'))
  await step('intoDir', () => c.copyTo(src('in.txt'), '/data/d/e/'))
  await step('viaLink', () => c.copyTo(src('in.txt'), '/data/d/le/via'))
  await step('tree', () => c.copyTo(src('tree'), '/data/d/e/tree'))
  await step('replace', () => c.copyTo(src('tree/t'), '/data/d/e/x'))
  await step('put', async () => c.putArchive('/data/d/le', (await c.getArchive('/etc/group')).stream))
  // Symlinks there pointing out (absolute to a host path, climbing above /) resolve below the container's root.
  await step('outAbs', () => c.copyTo(src('in.txt'), '/data/d/home/esc1'))
  await step('outUp', () => c.copyTo(src('in.txt'), '/data/d/up' + process.env.HOME + '/esc2'))
  await step('putOut', async () => c.putArchive('/data/d/home', (await c.getArchive('/etc/group')).stream))
  await step('unsearchable', () => c.copyTo(src('in.txt'), '/data/d/p/x'))
  await step('stats', async () => {
    const st = async (p) => { const s = await c.statPath(p); return [s.name, (s.mode & 0o170777).toString(8), s.size, s.linkTarget] }
    return [await st('/data/d/e'), await st('/data/d/e/x'), await st('/data/d/abs'), await st('/data/d/le'), await st('/data/d/up'), await st('/data/d/home'), await st('/data/d/le/')]
  })
  await step('archiveStat', async () => {
    const { stream, stat } = await c.getArchive('/data/d/abs')
    stream.resume()
    return stat.linkTarget
  })
  out.seen = await c.exec(['sh', '-c', 'cat /data/d/e/x /data/d/e/in.txt /data/d/e/via /data/d/e/tree/t; stat -c "%u:%g %n" /data/d/e/x /data/d/e/in.txt /data/d/e/tree /data/d/e/group /data/d/e; ls -a /data/d /data/d/e /data/d/p'])
  out.leaked = ['esc1', 'esc2', 'group'].filter((n) => fs.existsSync(src(n)))
  await c.remove({ force: true })`)
    // Nothing of the host's written through a symlink pointing out (checked first: they fail first if unconfined).
    expect(out.leaked).toEqual([])
    for (const escaped of [out.outAbs, out.outUp]) expect(escaped).toMatchObject({ code: 'ENOTDIR', message: expect.stringContaining('parents are never created') })
    expect(out.putOut).toMatchObject({ code: 'ENOTFOUND' })
    for (const done of [out.file, out.intoDir, out.viaLink, out.tree, out.replace, out.put]) expect(done).toBeUndefined()
    expect(out.seen.exitCode).toBe(0)
    const lines = out.seen.stdout.split('\n')
    expect(lines.slice(0, 4)).toEqual(['t', 'in', 'in', 't'])
    expect(lines.slice(4, 9)).toEqual(['0:0 /data/d/e/x', '0:0 /data/d/e/in.txt', '0:0 /data/d/e/tree', '0:0 /data/d/e/group', '999:999 /data/d/e'])
    // No staging directory is left anywhere, not even in /data/d/p, which only 999 may search.
    expect(out.seen.stdout).not.toContain('.mc-')
    expect(lines.slice(9).join(' ')).toBe('/data/d: . .. abs e home le p up  /data/d/e: . .. group in.txt tree via x  /data/d/p: . .. x ')
    // A copy landing in a directory only another id may search goes through the keeper too.
    expect(out.unsearchable).toBeUndefined()
    expect(out.stats).toEqual([
      ['e', '40755', expect.any(Number), ''],
      ['x', '100644', 2, ''],
      ['abs', '120777', 11, '/data/d/e/x'],
      ['le', '120777', 1, '/data/d/e'],
      ['up', '120777', 8, '/'],
      ['home', '120777', home.length, home],
      ['le', '40755', expect.any(Number), ''],
    ])
    expect(out.archiveStat).toBe('/data/d/e/x')
  })

  test("copies and archives landing in a directory only another id may search itself (/data/d 0700 of 999) go through the keeper: new files, a tree, a replaced file of 999's and an archive land as root's with their modes (as a root runtime gives), a tree merges into 999's directory there, the contents come back out; a symlink planted there pointing out is replaced, never written through; a failed copy leaves no stage", () => {
    // A tree with a file neither the user nor its keeper may read: root's, 0600 (the user's own 0000 file the keeper reads, as root would).
    const bad = path.join(home, 'bad-tree')
    fs.mkdirSync(bad)
    fs.writeFileSync(path.join(bad, 'a'), 'a\n')
    fs.writeFileSync(path.join(bad, 'z'), 'z\n', { mode: 0o600 })
    fs.chownSync(bad, user.uid, user.gid)
    fs.chownSync(path.join(bad, 'a'), user.uid, user.gid)
    const out = asUser(`
  await Image.import(${JSON.stringify(path.join(images, 'owned'))}, { runtime: rt, ref: 'owned:latest' })
  // The sources, and a host directory the symlinks planted in the container point to (it must stay empty).
  const base = fs.mkdtempSync(path.join(process.env.HOME, 'land-'))
  const trap = fs.mkdtempSync(path.join(process.env.HOME, 'trap-'))
  const c = await run('owned', ['sh', '-c', 'mkdir -m 700 /data/d /data/d/tree && echo old > /data/d/old && chmod 600 /data/d/old && ln -s ' + trap + '/planted /data/d/in.txt && ln -s ' + trap + ' /data/d/home && echo ready && sleep 300'], { runtime: rt, network: 'none', user: '999' })
  for (let i = 0; i < 200 && !(await logs(c)).includes('ready'); i++) await new Promise((r) => setTimeout(r, 25))
  const src = (n) => path.join(base, n)
  fs.writeFileSync(src('in.txt'), 'in\\n', { mode: 0o640 })
  fs.writeFileSync(src('old'), 'new\\n')
  fs.mkdirSync(src('tree/sub'), { recursive: true })
  fs.writeFileSync(src('tree/t'), 't\\n', { mode: 0o600 })
  fs.writeFileSync(src('tree/sub/u'), 'u\\n')
  await step('file', () => c.copyTo(src('in.txt'), '/data/d/'))
  await step('named', () => c.copyTo(src('in.txt'), '/data/d/named'))
  await step('replace', () => c.copyTo(src('old'), '/data/d/old'))
  await step('tree', () => c.copyTo(src('tree'), '/data/d/'))
  await step('put', async () => c.putArchive('/data/d', (await c.getArchive('/etc/group')).stream))
  await step('outAbs', () => c.copyTo(src('in.txt'), '/data/d/home/'))
  await step('failed', () => c.copyTo(${JSON.stringify(bad)}, '/data/d/'))
  await step('back', async () => (await c.copyFrom('/data/d/', src('back')), fs.readdirSync(src('back')).sort()))
  await step('backContents', async () => (await c.copyFrom('/data/d/tree/.', src('backTree')), [fs.readFileSync(src('backTree/t'), 'utf8'), fs.readFileSync(src('backTree/sub/u'), 'utf8')]))
  out.seen = await c.exec(['sh', '-c', 'cat /data/d/in.txt /data/d/named /data/d/old /data/d/tree/t /data/d/tree/sub/u; stat -c "%u:%g %a %F %n" /data/d/in.txt /data/d/named /data/d/old /data/d/tree /data/d/tree/t /data/d/tree/sub /data/d/group /data/d; ls -a /data/d'], { user: '0' })
  out.leaked = fs.readdirSync(trap)
  await c.remove({ force: true })`)
    // Nothing written on the host through a symlink planted inside (checked first: they fail first if unconfined).
    expect(out.leaked).toEqual([])
    expect(out.outAbs).toMatchObject({ code: 'ENOTDIR' })
    for (const done of [out.file, out.named, out.replace, out.tree, out.put]) expect(done).toBeUndefined()
    // The copy of a tree with a file the user cannot read fails, and leaves neither its stage nor a part of the tree.
    expect(out.failed).toMatchObject({ code: expect.any(String) })
    expect(out.seen.exitCode).toBe(0)
    const lines = out.seen.stdout.split('\n')
    expect(lines.slice(0, 5)).toEqual(['in', 'in', 'new', 't', 'u'])
    // As a root runtime's copy gives them: root's, with the source's modes; the merged directory takes the source's metadata.
    expect(lines.slice(5, 13)).toEqual([
      '0:0 640 regular file /data/d/in.txt',
      '0:0 640 regular file /data/d/named',
      '0:0 644 regular file /data/d/old',
      '0:0 755 directory /data/d/tree',
      '0:0 600 regular file /data/d/tree/t',
      '0:0 755 directory /data/d/tree/sub',
      '0:0 644 regular file /data/d/group',
      '999:999 700 directory /data/d',
    ])
    expect(lines.slice(13).join(' ').trim()).toBe('. .. group home in.txt named old tree')
    expect(out.back).toEqual(['group', 'home', 'in.txt', 'named', 'old', 'tree'])
    expect(out.backContents).toEqual(['t\n', 'u\n'])
  })

  test("putArchive keeps the archive's owners as a root runtime does (given by the keeper on the landing directory's fd once merged, set-id bits kept), or applies chown; directories merged into ones only another id may search (/data/d, /data/d/sub, 0700 of 999) take the archive's user.* attributes; trusted.* is skipped as for a root runtime's refusals; an owner beyond the range is EIDRANGE before anything is merged", () => {
    // The archive, made here (Python's tarfile writes PAX SCHILY.xattr records).
    const tarPath = path.join(home, 'owned.tar')
    execFileSync('python3', ['-c', `import tarfile, io
t = tarfile.open(${JSON.stringify(tarPath)}, 'w', format=tarfile.PAX_FORMAT)
for name, note in (('d', 'on d'), ('d/sub', 'on sub')):
    i = tarfile.TarInfo(name); i.type = tarfile.DIRTYPE; i.mode = 0o700; i.uid = i.gid = 999
    i.pax_headers = {'SCHILY.xattr.user.note': note, 'SCHILY.xattr.trusted.note': 'root only'}
    t.addfile(i)
for name, uid, gid, mode in (('d/sub/f', 999, 999, 0o600), ('d/g', 1234, 5678, 0o640), ('d/suid', 4321, 8765, 0o4755)):
    i = tarfile.TarInfo(name); i.size = 2; i.mode = mode; i.uid = uid; i.gid = gid
    t.addfile(i, io.BytesIO(b'f\\n'))
t.close()
t = tarfile.open(${JSON.stringify(tarPath)} + '.beyond', 'w', format=tarfile.PAX_FORMAT)
i = tarfile.TarInfo('beyond'); i.size = 2; i.uid = i.gid = 70000
t.addfile(i, io.BytesIO(b'b\\n'))
t.close()`])
    for (const f of [tarPath, `${tarPath}.beyond`]) fs.chmodSync(f, 0o644)
    const out = asUser(`
  await Image.import(${JSON.stringify(path.join(images, 'owned'))}, { runtime: rt, ref: 'owned:latest' })
  const c = await run('owned', ['sh', '-c', 'mkdir -m 700 /data/d /data/d/sub /data/e && echo ready && sleep 300'], { runtime: rt, network: 'none', user: '999' })
  for (let i = 0; i < 200 && !(await logs(c)).includes('ready'); i++) await new Promise((r) => setTimeout(r, 25))
  await step('put', () => c.putArchive('/data', fs.createReadStream(${JSON.stringify(tarPath)})))
  await step('chowned', () => c.putArchive('/data/e', fs.createReadStream(${JSON.stringify(tarPath)}), { chown: { uid: 7, gid: 8 } }))
  await step('beyond', () => c.putArchive('/data/e', fs.createReadStream(${JSON.stringify(tarPath)} + '.beyond')))
  out.seen = (await c.exec(['sh', '-c', 'cat /data/d/sub/f; ls /data/e; stat -c "%u:%g %a %n" /data/d /data/d/sub /data/d/sub/f /data/d/g /data/d/suid /data/e/d /data/e/d/g'], { user: '0' })).stdout
  await c.stop({ timeout: 1 })
  out.upper = path.join(rt.root, 'containers', c.id, 'upper')
  out.id = c.id`)
    try {
      expect(out.put).toBeUndefined()
      expect(out.chowned).toBeUndefined()
      // An owner beyond the subordinate range: EIDRANGE before anything is merged.
      expect(out.beyond).toMatchObject({ code: 'EIDRANGE', message: expect.stringContaining('70000') })
      expect(out.seen).toBe(['f', 'd', '999:999 700 /data/d', '999:999 700 /data/d/sub', '999:999 600 /data/d/sub/f', '1234:5678 640 /data/d/g', '4321:8765 4755 /data/d/suid', '7:8 700 /data/e/d', '7:8 640 /data/e/d/g', ''].join('\n'))
      // Observed as root on the container's upper directory: the attributes are on the merged directories themselves.
      const attr = (rel: string, name: string) => spawnSync('getfattr', ['--only-values', '-n', name, path.join(out.upper, rel)], { encoding: 'utf8' })
      expect(attr('data/d', 'user.note').stdout).toBe('on d')
      expect(attr('data/d/sub', 'user.note').stdout).toBe('on sub')
      expect(attr('data/d', 'trusted.note').status).not.toBe(0)
    } finally {
      asUser(`await (await lib().Container.get(${JSON.stringify(out.id)}, { runtime: rt })).remove()`)
    }
  })

  test("an archive's user.* attributes land as a root runtime's do on entries their modes leave unwritable (a 0500 directory merged into /data/d, 0700 of 999; a 0444 file; a new 0555 directory), in /tmp and in /data: set before the mode in the stage, on the merged directory by the keeper", () => {
    const tarPath = path.join(home, 'readonly.tar')
    writePaxArchive(tarPath, [...readOnlyWithNotes, { name: 'n', mode: 0o555, uid: 999, note: 'on n' }])
    const out = asUser(`
  await Image.import(${JSON.stringify(path.join(images, 'owned'))}, { runtime: rt, ref: 'owned:latest' })
  const c = await run('owned', ['sh', '-c', 'mkdir -m 700 /data/d && echo ready && sleep 300'], { runtime: rt, network: 'none', user: '999' })
  for (let i = 0; i < 200 && !(await logs(c)).includes('ready'); i++) await new Promise((r) => setTimeout(r, 25))
  await step('tmp', () => c.putArchive('/tmp', fs.createReadStream(${JSON.stringify(tarPath)})))
  await step('data', () => c.putArchive('/data', fs.createReadStream(${JSON.stringify(tarPath)})))
  out.seen = (await c.exec(['sh', '-c', 'cat /tmp/d/f /data/d/f; stat -c "%u:%g %a %n" /tmp/d /tmp/d/f /tmp/n /data/d /data/d/f /data/n'], { user: '0' })).stdout
  await c.stop({ timeout: 1 })
  out.upper = path.join(rt.root, 'containers', c.id, 'upper')
  out.id = c.id`)
    try {
      expect(out.tmp).toBeUndefined()
      expect(out.data).toBeUndefined()
      expect(out.seen).toBe(['f', 'f', '999:999 500 /tmp/d', '1234:1234 444 /tmp/d/f', '999:999 555 /tmp/n', '999:999 500 /data/d', '1234:1234 444 /data/d/f', '999:999 555 /data/n', ''].join('\n'))
      // Observed as root on the container's upper directory.
      const attr = (rel: string) => spawnSync('getfattr', ['--only-values', '-n', 'user.note', path.join(out.upper, rel)], { encoding: 'utf8' }).stdout
      expect(['tmp/d', 'tmp/d/f', 'tmp/n', 'data/d', 'data/d/f', 'data/n'].map(attr)).toEqual(['on d', 'on f', 'on n', 'on d', 'on f', 'on n'])
    } finally {
      asUser(`await (await lib().Container.get(${JSON.stringify(out.id)}, { runtime: rt })).remove()`)
    }
  })

  test("an archive or a copy crossing a mount inside a directory only another id may search (a volume at /data/m/vol, /data/m and the volume 0700 of 999; a bind-mounted file /data/m/cfg, 0600 of 999) lands as a root runtime's: contents, the archive's owners, modes and user.* attributes on the volume, the file rewritten in place; no staging directory is left", () => {
    const tarPath = path.join(home, 'cross.tar')
    writePaxArchive(tarPath, [
      { name: 'vol', mode: 0o750, uid: 999 },
      { name: 'vol/f', mode: 0o640, uid: 1234, data: 'f\n' },
      { name: 'vol/sub', mode: 0o700, uid: 999, note: 'on sub' },
      { name: 'vol/sub/g', mode: 0o400, uid: 999, note: 'on g', data: 'g\n' },
      { name: 'cfg', mode: 0o640, uid: 1234, data: 'new cfg\n' },
    ])
    // A bind-mounted file of 999, which only 999 may write: a mount point, under which a rename from the host's namespace would hide the new file.
    const cfg = path.join(home, 'cfg')
    fs.writeFileSync(cfg, 'old cfg, longer than the new one\n', { mode: 0o600 })
    fs.chownSync(cfg, user.subids.start + 998, user.subids.start + 998)
    // The volume: a host directory of the container's 999 (a subordinate id), which the user may not search.
    const vol = path.join(home, 'vol')
    fs.mkdirSync(vol, { mode: 0o700 })
    fs.chownSync(vol, user.subids.start + 998, user.subids.start + 998)
    const out = asUser(`
  await Image.import(${JSON.stringify(path.join(images, 'owned'))}, { runtime: rt, ref: 'owned:latest' })
  const c = await run('owned', ['sh', '-c', 'chown 999:999 /data/m && chmod 700 /data/m && echo ready && sleep 300'], { runtime: rt, network: 'none', volumes: [${JSON.stringify(vol)} + ':/data/m/vol', ${JSON.stringify(cfg)} + ':/data/m/cfg'] })
  for (let i = 0; i < 200 && !(await logs(c)).includes('ready'); i++) await new Promise((r) => setTimeout(r, 25))
  await step('put', () => c.putArchive('/data/m', fs.createReadStream(${JSON.stringify(tarPath)})))
  const src = fs.mkdtempSync(path.join(process.env.HOME, 'cross-'))
  fs.mkdirSync(path.join(src, 'copied'))
  fs.chmodSync(path.join(src, 'copied'), 0o750)
  fs.writeFileSync(path.join(src, 'copied/c'), 'c\\n', { mode: 0o640 })
  await step('copy', () => c.copyTo(path.join(src, 'copied'), '/data/m/vol/'))
  out.seen = (await c.exec(['sh', '-c', 'cat /data/m/vol/f /data/m/vol/sub/g /data/m/vol/copied/c; ls -a /data/m; ls -a /data/m/vol'], { user: '0' })).stdout
  await c.remove({ force: true })`)
    const { start } = user.subids
    const owner = (rel: string) => {
      const st = fs.lstatSync(path.join(vol, rel))
      return `${st.uid - start + 1}:${st.gid - start + 1} ${(st.mode & 0o7777).toString(8)}`
    }
    const attr = (rel: string) => spawnSync('getfattr', ['--only-values', '-n', 'user.note', path.join(vol, rel)], { encoding: 'utf8' }).stdout
    expect(out.put).toBeUndefined()
    expect(out.copy).toBeUndefined()
    expect(out.seen).toBe('f\ng\nc\n.\n..\ncfg\nvol\n.\n..\ncopied\nf\nsub\n')
    const cfgStat = fs.lstatSync(cfg)
    expect([fs.readFileSync(cfg, 'utf8'), cfgStat.uid - start + 1, cfgStat.gid - start + 1, cfgStat.mode & 0o7777]).toEqual(['new cfg\n', 1234, 1234, 0o640])
    // The container's ids on the host (uid u inside is start+u-1): the archive's owners; the copy's are root's (0:0, the user).
    expect(['', 'f', 'sub', 'sub/g'].map(owner)).toEqual(['999:999 750', '1234:1234 640', '999:999 700', '999:999 400'])
    expect(['copied', 'copied/c'].map((rel) => fs.lstatSync(path.join(vol, rel))).map((st) => [st.uid, st.mode & 0o777])).toEqual([[user.uid, 0o750], [user.uid, 0o640]])
    expect(['sub', 'sub/g'].map(attr)).toEqual(['on sub', 'on g'])
  })

  test("a file of mode 0000 carrying a user.* attribute, archived or copied across a mount (a volume at /data/v, 0700 of 999), lands as a root runtime's does: contents and mode 0000, the archive's attribute kept, none from a copy (as docker cp); the user's own 0000 source is read through the keeper", () => {
    const tarPath = path.join(home, 'none.tar')
    writePaxArchive(tarPath, [{ name: 'z', mode: 0o000, uid: 999, note: 'on z', data: 'z\n' }])
    const vol = path.join(home, 'vol0')
    fs.mkdirSync(vol, { mode: 0o700 })
    fs.chownSync(vol, user.subids.start + 998, user.subids.start + 998)
    const out = asUser(`
  await Image.import(${JSON.stringify(path.join(images, 'owned'))}, { runtime: rt, ref: 'owned:latest' })
  const c = await run('owned', ['sleep', '300'], { runtime: rt, network: 'none', volumes: [${JSON.stringify(vol)} + ':/data/v'] })
  await step('put', () => c.putArchive('/data/v', fs.createReadStream(${JSON.stringify(tarPath)})))
  const src = fs.mkdtempSync(path.join(process.env.HOME, 'none-'))
  fs.writeFileSync(path.join(src, 'y'), 'y\\n')
  require('node:child_process').execFileSync('setfattr', ['-n', 'user.note', '-v', 'on y', path.join(src, 'y')])
  fs.chmodSync(path.join(src, 'y'), 0)
  await step('copy', () => c.copyTo(path.join(src, 'y'), '/data/v/'))
  out.seen = (await c.exec(['sh', '-c', 'cat /data/v/z /data/v/y; stat -c "%a %n" /data/v/z /data/v/y'], { user: '0' })).stdout
  await c.remove({ force: true })`)
    const attr = (rel: string) => spawnSync('getfattr', ['--only-values', '-n', 'user.note', path.join(vol, rel)], { encoding: 'utf8' }).stdout
    expect({ put: out.put, copy: out.copy }).toEqual({ put: undefined, copy: undefined })
    expect(out.seen).toBe('z\ny\n0 /data/v/z\n0 /data/v/y\n')
    // A copy keeps no user.* attribute, rootless or not (files/xattrs.test: like docker cp).
    expect(['z', 'y'].map(attr)).toEqual(['on z', ''])
  })

  test('a symlink copied or archived onto a bind-mounted file is EINUSE, as with root (Docker: device or resource busy): the bound file keeps its contents', () => {
    const bound = path.join(home, 'bound-cfg')
    fs.writeFileSync(bound, 'bound\n')
    fs.chownSync(bound, user.uid, user.gid)
    const out = asUser(`
  await Image.import(${JSON.stringify(path.join(images, 'owned'))}, { runtime: rt, ref: 'owned:latest' })
  const c = await run('owned', ['sleep', '300'], { runtime: rt, network: 'none', volumes: [${JSON.stringify(bound)} + ':/etc/cfg'] })
  const src = fs.mkdtempSync(path.join(process.env.HOME, 'link-'))
  fs.symlinkSync('/etc/passwd', path.join(src, 'cfg'))
  await step('copy', () => c.copyTo(path.join(src, 'cfg'), '/etc/cfg'))
  const tar = require('node:child_process').execFileSync('tar', ['-c', '-C', src, 'cfg'])
  await step('put', () => c.putArchive('/etc', require('node:stream').Readable.from([tar])))
  out.seen = (await c.exec(['cat', '/etc/cfg'])).stdout
  await c.remove({ force: true })`)
    expect([out.copy?.code, out.put?.code, out.seen]).toEqual(['EINUSE', 'EINUSE', 'bound\n'])
    expect(fs.readFileSync(bound, 'utf8')).toBe('bound\n')
  })

  test("a copy or an archive replacing another id's non-empty directory with a file, inside a directory only that id may search (/data/d/x and /data/d/y, 0700 of 999, with files and a subdirectory), replaces it as a root runtime does: the old tree is removed through the keeper on the stage's fd; no stage is left", () => {
    const out = asUser(`
  await Image.import(${JSON.stringify(path.join(images, 'owned'))}, { runtime: rt, ref: 'owned:latest' })
  const tree = (d) => 'mkdir -m 700 ' + d + ' ' + d + '/sub && echo a > ' + d + '/a && echo b > ' + d + '/sub/b && chmod 600 ' + d + '/a ' + d + '/sub/b && chmod 700 ' + d + '/sub'
  const c = await run('owned', ['sh', '-c', 'mkdir -m 700 /data/d && ' + tree('/data/d/x') + ' && ' + tree('/data/d/y') + ' && echo ready && sleep 300'], { runtime: rt, network: 'none', user: '999' })
  for (let i = 0; i < 200 && !(await logs(c)).includes('ready'); i++) await new Promise((r) => setTimeout(r, 25))
  const base = fs.mkdtempSync(path.join(process.env.HOME, 'repl-'))
  fs.writeFileSync(path.join(base, 'x'), 'file x\\n', { mode: 0o640 })
  await step('copy', () => c.copyTo(path.join(base, 'x'), '/data/d/'))
  // An archive whose entry y is a file, root's (putArchive keeps an archive's owners: the user's host uid would stay that number inside).
  fs.writeFileSync(path.join(base, 'y'), 'file y\\n')
  const tar = require('node:child_process').execFileSync('tar', ['-c', '--owner=0', '--group=0', '-C', base, 'y'])
  await step('put', () => c.putArchive('/data/d', require('node:stream').Readable.from([tar])))
  out.seen = (await c.exec(['sh', '-c', 'cat /data/d/x /data/d/y; stat -c "%u:%g %a %F %n" /data/d/x /data/d/y; ls -a /data/d'], { user: '0' })).stdout
  await c.remove({ force: true })`)
    expect(out.copy).toBeUndefined()
    expect(out.put).toBeUndefined()
    expect(out.seen).toBe('file x\nfile y\n0:0 640 regular file /data/d/x\n0:0 644 regular file /data/d/y\n.\n..\nx\ny\n')
  })

  test("a path with '..' through a directory only another id may search resolves while another process renames files in a loop (the keeper retries RESOLVE_IN_ROOT's EAGAIN, as Node's openat2 does)", () => {
    const out = asUser(`
  await Image.import(${JSON.stringify(path.join(images, 'owned'))}, { runtime: rt, ref: 'owned:latest' })
  const c = await run('owned', ['sh', '-c', 'mkdir -m 700 /data/d && echo t > /data/d/t && ln -s ../../.. /data/d/up && echo ready && sleep 300'], { runtime: rt, network: 'none', user: '999' })
  for (let i = 0; i < 200 && !(await logs(c)).includes('ready'); i++) await new Promise((r) => setTimeout(r, 25))
  // The renamer: bounded, in a directory of its own; any rename on the system spoils a racing '..' lookup.
  const scratch = fs.mkdtempSync(path.join(process.env.HOME, 'mv-'))
  fs.writeFileSync(path.join(scratch, 'x'), '')
  const mover = require('node:child_process').spawn(process.execPath, ['-e', 'const fs = require("fs"); for (const t = Date.now(); Date.now() - t < 8000; ) { fs.renameSync("x", "y"); fs.renameSync("y", "x") }'], { cwd: scratch, stdio: 'ignore' })
  const gone = new Promise((r) => mover.once('exit', r))
  await new Promise((r) => setTimeout(r, 100))
  const failures = {}
  let resolved = 0
  for (const t0 = Date.now(); Date.now() - t0 < 3000; ) {
    try {
      if ((await c.statPath('/data/d/up/data/d/up/data/d/up/data/d/up/data/d/up/data/d/up/data/d/up/data/d/up/data/d/t')).size === 2) resolved++
    } catch (e) {
      failures[e.code + ' ' + e.message] = (failures[e.code + ' ' + e.message] ?? 0) + 1
    }
  }
  mover.kill('SIGKILL')
  await gone
  fs.rmSync(scratch, { recursive: true, force: true })
  out.failures = failures
  out.resolved = resolved
  await c.remove({ force: true })`)
    expect(out.failures).toEqual({})
    expect(out.resolved).toBeGreaterThan(50)
  })

  test("opaque directories and whiteouts round-trip rootless (overlay's user.overlay.* marks): an image's .wh..wh..opq and .wh. entries hide the lower's files; a directory remade in a rootless container, committed, hides them when run again, and its saved layer has Docker's .wh..wh..opq", async () => {
    // The image with whiteouts is made by a root runtime: /opq remade (opaque) and /gone/b removed over the lower layer.
    const rootRt = tempRuntime('mc-rl-opq-')
    const tar = path.join(home, 'whiteouts.tar')
    try {
      await Image.import(path.join(images, 'owned'), { runtime: rootRt, ref: 'owned:latest' })
      const c = await run('owned', ['sh', '-c', 'rm -rf /opq && mkdir /opq && echo n > /opq/n && rm /gone/b'], { runtime: rootRt, network: 'none' })
      expect(await c.wait()).toEqual({ exitCode: 0 })
      await c.commit({ ref: 'whiteouts:latest' })
      await Image.save('whiteouts:latest', tar, { runtime: rootRt })
      fs.chownSync(tar, user.uid, user.gid)
    } finally {
      await destroyRuntime(rootRt)
    }
    const saved = path.join(home, 'committed.tar')
    const out = asUser(`
  await Image.import(${JSON.stringify(path.join(images, 'owned'))}, { runtime: rt, ref: 'owned:latest' })
  const ls = async (ref) => {
    const c = await run(ref, ['sh', '-c', 'ls -a /opq /gone; stat -c %u:%a /opq'], { runtime: rt, network: 'none' })
    const r = { exit: await c.wait(), logs: await logs(c) }
    await c.remove()
    return r
  }
  await step('loaded', async () => (await Image.load(${JSON.stringify(tar)}, { runtime: rt }), ls('whiteouts')))
  // The remade directory is 999's and 0700: only the keeper may read its marks.
  const c = await run('owned', ['sh', '-c', 'rm -rf /opq && mkdir /opq && echo m > /opq/m && chown -R 999:999 /opq && chmod 700 /opq && rm /gone/b'], { runtime: rt, network: 'none' })
  out.made = await c.wait()
  await step('commit', async () => (await c.commit({ ref: 'remade:latest' })).id)
  await c.remove()
  await step('committed', () => ls('remade'))
  await step('save', () => Image.save('remade:latest', ${JSON.stringify(saved)}, { runtime: rt }))`)
    const both = (opq: string, owner: string) => ({ exit: { exitCode: 0 }, logs: `/gone:\n.\n..\na\n\n/opq:\n.\n..\n${opq}\n${owner}\n` })
    expect(out.loaded).toEqual(both('n', '0:755'))
    expect(out.made).toEqual({ exitCode: 0 })
    expect(out.commit).toEqual(expect.any(String))
    expect(out.committed).toEqual(both('m', '999:700'))
    expect(out.save).toBeUndefined()
    // The committed layer (the image's last) as Docker writes it: an opaque marker and a whiteout.
    const unpacked = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rl-saved-'))
    try {
      execFileSync('tar', ['-xf', saved, '-C', unpacked])
      const manifest = JSON.parse(fs.readFileSync(path.join(unpacked, 'manifest.json'), 'utf8'))
      const layers: string[] = manifest[0].Layers
      const names = execFileSync('tar', ['-tf', path.join(unpacked, layers[layers.length - 1]!)], { encoding: 'utf8' }).trim().split('\n')
      expect(names).toEqual(expect.arrayContaining(['opq/', 'opq/.wh..wh..opq', 'opq/m', 'gone/', 'gone/.wh.b']))
      expect(names.filter((n) => n.startsWith('opq/') || n.startsWith('gone/'))).toHaveLength(5)
    } finally {
      fs.rmSync(unpacked, { recursive: true, force: true })
    }
  })

  test('a commit keeps a user.* attribute of 600 bytes (past the 512 the keeper once answered) on a file only another id may read: read by the keeper, its value whole in the layer', () => {
    const saved = path.join(home, 'attr.tar')
    const out = asUser(`
  await Image.import(${JSON.stringify(path.join(images, 'owned'))}, { runtime: rt, ref: 'owned:latest' })
  const c = await run('owned', ['sh', '-c', 'chmod 600 /data/attr'], { runtime: rt, network: 'none' })
  out.made = await c.wait()
  await step('commit', async () => (await c.commit({ ref: 'attr:latest' })).id)
  await c.remove()
  await step('save', () => Image.save('attr:latest', ${JSON.stringify(saved)}, { runtime: rt }))`)
    expect(out.made).toEqual({ exitCode: 0 })
    expect(out.commit).toEqual(expect.any(String))
    expect(out.save).toBeUndefined()
    // The committed layer (the image's last) holds data/attr with its attribute, extracted here as root.
    const unpacked = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rl-attr-'))
    try {
      execFileSync('tar', ['-xf', saved, '-C', unpacked])
      const layers: string[] = JSON.parse(fs.readFileSync(path.join(unpacked, 'manifest.json'), 'utf8'))[0].Layers
      const layer = path.join(unpacked, 'layer')
      fs.mkdirSync(layer)
      execFileSync('tar', ['--xattrs', "--xattrs-include=user.*", '-xf', path.join(unpacked, layers[layers.length - 1]!), '-C', layer, 'data/attr'])
      expect(execFileSync('getfattr', ['--only-values', '-n', 'user.note', path.join(layer, 'data/attr')])).toEqual(Buffer.alloc(600, 0xab))
      expect((fs.statSync(path.join(layer, 'data/attr')).mode & 0o777).toString(8)).toBe('600')
    } finally {
      fs.rmSync(unpacked, { recursive: true, force: true })
    }
  })

  test("getArchive's headers carry the owners the container sees (0 for root's files, 999 for 999's), as a root runtime's do for the same image, not their host ids; put back, the archive's entries are 999's again", async () => {
    const paths = ['/etc/passwd', '/data']
    const out = asUser(`
  await Image.import(${JSON.stringify(path.join(images, 'owned'))}, { runtime: rt, ref: 'owned:latest' })
  const c = await run('owned', ['sleep', '300'], { runtime: rt, network: 'none' })
  out.tars = []
  for (const p of ${JSON.stringify(paths)}) {
    const chunks = []
    for await (const d of (await c.getArchive(p)).stream) chunks.push(d)
    out.tars.push(Buffer.concat(chunks).toString('base64'))
  }
  // And back in (docker cp's round trip): the owners the archive names, as the container saw them.
  await step('put', () => c.putArchive('/tmp', Buffer.from(out.tars[1], 'base64')))
  out.back = (await c.exec(['stat', '-c', '%u:%g %a %n', '/tmp/data', '/tmp/data/suid'])).stdout
  await c.remove({ force: true })`)
    const rootless = await Promise.all(out.tars.map((b: string) => tarOwners(Buffer.from(b, 'base64'))))
    const rootRt = tempRuntime('mc-rl-getarch-')
    try {
      await Image.import(path.join(images, 'owned'), { runtime: rootRt, ref: 'owned:latest' })
      const c = await run('owned', ['true'], { runtime: rootRt, network: 'none' })
      await c.wait()
      const asRoot = []
      for (const p of paths) asRoot.push(await tarOwners(await streamBytes((await c.getArchive(p)).stream)))
      await c.remove()
      expect(rootless).toEqual(asRoot)
    } finally {
      await destroyRuntime(rootRt)
    }
    expect(rootless[0]).toEqual({ passwd: '0:0' })
    expect(rootless[1]).toMatchObject({ data: '999:999', 'data/suid': '999:999', 'data/attr': '999:999' })
    expect(out.put).toBeUndefined()
    expect(out.back).toBe('999:999 755 /tmp/data\n999:999 4755 /tmp/data/suid\n')
  })

  test('commit records the owners as the container saw them (999, root), not their host ids', () => {
    const out = asUser(`
  await Image.import(${JSON.stringify(path.join(images, 'owned'))}, { runtime: rt, ref: 'owned:latest' })
  const a = await run('owned', ['sh', '-c', 'touch /data/new'], { runtime: rt, network: 'none', user: '999' })
  await a.wait()
  const b = await run('owned', ['sh', '-c', 'touch /etc/newroot'], { runtime: rt, network: 'none' })
  await b.wait()
  await step('commitA', async () => (await a.commit({ ref: 'committed:a' })).id)
  await step('commitB', async () => (await b.commit({ ref: 'committed:b' })).id)
  const c = await run('committed:a', ['sh', '-c', 'stat -c %u:%g /data/new'], { runtime: rt, network: 'none' })
  await c.wait()
  const d = await run('committed:b', ['sh', '-c', 'stat -c %u:%g /etc/newroot'], { runtime: rt, network: 'none' })
  await d.wait()
  out.logs = (await logs(c)) + (await logs(d))
  for (const x of [a, b, c, d]) await x.remove()`)
    expect([typeof out.commitA, typeof out.commitB]).toEqual(['string', 'string'])
    expect(out.logs).toBe('999:999\n0:0\n')
  })

  test('a keeper killed from outside is replaced at the next start, with the same map', () => {
    const out = asUser(`
  await Image.import(${JSON.stringify(path.join(images, 'owned'))}, { runtime: rt, ref: 'owned:latest' })
  const probe = async () => {
    const c = await run('owned', ['sh', '-c', 'cat /proc/self/uid_map; stat -c %u /data'], { runtime: rt, network: 'none', rm: true })
    await c.wait()
  }
  await probe()
  const [first] = keepers()
  process.kill(first, 'SIGKILL')
  // Dead once a zombie, or gone: the runtime may reap it before this loop looks.
  const dead = () => { try { return /^\\d+ \\(.*\\) Z/.test(fs.readFileSync('/proc/' + first + '/stat', 'utf8')) } catch { return true } }
  while (!dead()) await new Promise((r) => setTimeout(r, 10))
  await step('again', async () => {
    const c = await run('owned', ['sh', '-c', 'cat /proc/self/uid_map; stat -c %u /data'], { runtime: rt, network: 'none' })
    const exit = await c.wait()
    const words = (await logs(c)).trim().split(/\\s+/)
    await c.remove()
    return { exit, words }
  })
  out.replaced = keepers().filter((k) => k !== first).length`)
    expect(out.again).toEqual({ exit: { exitCode: 0 }, words: ['0', String(user.uid), '1', '1', String(user.subids.start), '65536', '999'] })
    expect(out.replaced).toBe(1)
  })

  test('load keeps the owners; removing containers and images leaves no file of a subordinate id; nothing runs after close()', () => {
    const tar = path.join(home, 'owned.tar')
    const root = path.join(home, 'load')
    const out = asUser(`
  const img = await Image.import(${JSON.stringify(path.join(images, 'owned'))}, { runtime: rt, ref: 'owned:latest' })
  await Image.save('owned:latest', ${JSON.stringify(tar)}, { runtime: rt })
  await img.remove()
  out.afterRemove = fs.readdirSync(path.join(rt.root, 'layers')).filter((d) => d.startsWith('sha256-'))
  await Image.load(${JSON.stringify(tar)}, { runtime: rt })
  const c = await run('owned', ['sh', '-c', 'stat -c %u:%g /data; mkdir -p /data/deep/er && chmod 700 /data/deep && touch /data/deep/er/f'], { runtime: rt, network: 'none', user: '999' })
  out.exit = await c.wait()
  out.logs = await logs(c)
  await c.remove()
  await (await Image.get('owned', { runtime: rt })).remove()
  // A removed container's directory is deleted in the background: wait for the trash to empty.
  for (let i = 0; i < 200 && fs.readdirSync(path.join(rt.root, 'trash')).length; i++) await new Promise((r) => setTimeout(r, 25))
  out.trash = fs.readdirSync(path.join(rt.root, 'trash'))`, `{ root: ${JSON.stringify(root)} }`)
    expect(out.afterRemove).toEqual([])
    expect(out.exit).toEqual({ exitCode: 0 })
    expect(out.logs).toBe('999:999\n')
    expect(out.trash).toEqual([])
    expect(ownedByRange(root, user.subids.start, user.subids.count)).toEqual([])
    expect(pidsOf(user.uid)).toEqual([])
  })

  test('pull keeps the owners: layers unpacked from a registry give uid u inside to subuid start+u-1', async () => {
    const reg = await startRegistry()
    const pusher = tempRuntime('mc-rl-push-')
    try {
      const img = await Image.import(path.join(images, 'owned'), { runtime: pusher, ref: `${reg.host}/rl/owned:1` })
      await img.push()
      const out = asUser(
        `
  await Image.pull(${JSON.stringify(`${reg.host}/rl/owned:1`)}, { runtime: rt })
  const c = await run(${JSON.stringify(`${reg.host}/rl/owned:1`)}, ['sh', '-c', 'stat -c %u:%g /data; stat -c %a:%u /data/suid'], { runtime: rt, network: 'none' })
  await c.wait()
  out.logs = await logs(c)
  await c.remove()
  const layers = fs.readdirSync(path.join(rt.root, 'layers')).filter((d) => d.startsWith('sha256-'))
  out.layerData = layers.map((d) => fs.lstatSync(path.join(rt.root, 'layers', d, 'diff/data'))).map((s) => [s.uid, s.gid])
  await rt.close({ removeRoot: true })
  out.removedRoot = true`,
        `{ root: ${JSON.stringify(path.join(home, 'pulled'))} }`,
      )
      expect(out.logs).toBe('999:999\n4755:999\n')
      expect(out.layerData).toEqual([[user.subids.start + 998, user.subids.start + 998]])
    } finally {
      await destroyRuntime(pusher)
      await reg.stop()
    }
  })

  test('close({ removeRoot: true }) removes the whole root, upper dirs and layers of subordinate ids included; EINUSE while a container runs', () => {
    const root = path.join(home, 'throwaway')
    const out = asUser(
      `
  await Image.import(${JSON.stringify(path.join(images, 'owned'))}, { runtime: rt, ref: 'owned:latest' })
  const c = await run('owned', ['sh', '-c', 'mkdir -p /data/d && chmod 700 /data/d && touch /data/d/f'], { runtime: rt, network: 'none', user: '999' })
  await c.wait()
  const d = await run('owned', ['sleep', '300'], { runtime: rt, network: 'none', detach: true })
  const other = new Runtime({ root: rt.root })
  await step('inUse', () => other.close({ removeRoot: true }))
  out.rootAfterRefusal = fs.existsSync(rt.root)
  await d.remove({ force: true })
  await rt.close({ removeRoot: true })
  out.removedRoot = true
  out.rootExists = fs.existsSync(rt.root)`,
      `{ root: ${JSON.stringify(root)} }`,
    )
    expect(out.inUse.code).toBe('EINUSE')
    expect(out.rootAfterRefusal).toBe(true)
    expect(out.rootExists).toBe(false)
    expect(fs.existsSync(root)).toBe(false)
    expect(pidsOf(user.uid)).toEqual([])
  })

  test("an image file owned by an id beyond the range is EIDRANGE naming it, the id and the range, and leaves nothing; idOverflow: 'squash' gives it to root and says so", () => {
    const high = JSON.stringify(path.join(images, 'high'))
    const refused = asUser(`
  await step('import', () => Image.import(${high}, { runtime: rt, ref: 'high:latest' }))
  out.layers = fs.readdirSync(path.join(rt.root, 'layers')).filter((d) => d.startsWith('sha256-'))
  out.tmp = fs.readdirSync(path.join(rt.root, 'layers/tmp'))`, `{ root: ${JSON.stringify(path.join(home, 'eidrange'))} }`)
    expect(refused.import.code).toBe('EIDRANGE')
    expect(refused.import.message).toContain('/big/f')
    expect(refused.import.message).toContain('uid 70000')
    expect(refused.import.message).toContain(`${user.subids.start}-${user.subids.start + 65535}`)
    expect(refused.import.message).toContain("idOverflow: 'squash'")
    expect([refused.layers, refused.tmp]).toEqual([[], []])

    const squashed = asUser(
      `
  await Image.import(${high}, { runtime: rt, ref: 'high:latest' })
  const c = await run('high', ['sh', '-c', 'stat -c %u:%g /big/f /data'], { runtime: rt, network: 'none' })
  await c.wait()
  out.logs = await logs(c)
  await c.remove()`,
      "{ idOverflow: 'squash' }",
    )
    expect(squashed.logs).toBe('0:0\n999:999\n')
    expect(squashed.warnings).toEqual([{ code: 'MINICONTAINER_ID_SQUASHED', message: expect.stringContaining('/big/f') }])
  })
})

describe('rootless identity, as an ordinary user without a subordinate range', () => {
  let user: UnprivilegedUser
  let home: string
  let images: string
  beforeAll(() => {
    user = makeUnprivilegedUser({ subids: false })
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rl-one-'))
    fs.chownSync(home, user.uid, user.gid)
    images = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rl-img-'))
    fs.chmodSync(images, 0o755)
    imageDir(images, 'owned')
  })
  afterAll(() => {
    for (const dir of [home, images, `/tmp/minicontainer-${user.uid}`]) fs.rmSync(dir, { recursive: true, force: true })
    user.remove()
  })

  test('one id is mapped, files of other ids are the user\'s, one MINICONTAINER_SINGLE_UID warning names them; a non-root user is EUNSUPPORTED naming /etc/subuid', () => {
    const r = user.node(
      script(`
  await Image.import(${JSON.stringify(path.join(images, 'owned'))}, { runtime: rt, ref: 'owned:latest' })
  for (const name of ['first', 'second']) {
    const c = await run('owned', ['sh', '-c', 'cat /proc/self/uid_map; stat -c %u:%g /data'], { runtime: rt, network: 'none' })
    await c.wait()
    out[name] = await logs(c)
    await c.remove()
  }
  await step('user', () => run('owned', ['id'], { runtime: rt, network: 'none', user: '999' }))
  await step('keepId', () => run('owned', ['id'], { runtime: rt, network: 'none', userns: 'keep-id' }))
  out.keepers = keepers()
  out.containers = fs.readdirSync(path.join(rt.root, 'containers')).filter((f) => !f.startsWith('.'))
  // The containers' overlay work dirs (work/work, mode 000 from the kernel) are the user's: removeRoot takes them.
  const root = rt.root
  await step('removedRoot', () => rt.close({ removeRoot: true }).then(() => true))
  out.rootLeft = fs.existsSync(root)`),
      [],
      { HOME: home },
    )
    if (r.status !== 0) throw new Error(`the user's script failed (${r.status}): ${r.stderr}`)
    const out = JSON.parse(r.stdout)
    expect(out.removedRoot).toBe(true)
    expect(out.rootLeft).toBe(false)
    for (const logs of [out.first, out.second]) expect(logs.trim().split(/\s+/)).toEqual(['0', String(user.uid), '1', '0:0'])
    expect(out.warnings).toEqual([{ code: 'MINICONTAINER_SINGLE_UID', message: expect.stringContaining('/data') }])
    expect(out.warnings[0].message).toContain('usermod --add-subuids')
    expect(out.user.code).toBe('EUNSUPPORTED')
    expect(out.user.message).toContain('/etc/subuid')
    expect(out.user.message).toContain('usermod --add-subuids')
    expect(out.keepId.code).toBe('EUNSUPPORTED')
    expect(out.keepId.message).toContain('usermod --add-subuids')
    expect(out.keepers).toEqual([])
    expect(pidsOf(user.uid)).toEqual([])
  })
})

test("userns: 'keep-id' as root is EINVALID, before anything is pulled or made", async () => {
  const rt = tempRuntime('mc-rl-keepid-')
  try {
    await expect(Container.create('no-such-image', ['true'], { runtime: rt, userns: 'keep-id' })).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringContaining('rootless') })
    expect(fs.readdirSync(path.join(rt.root, 'containers')).filter((f) => !f.startsWith('.'))).toEqual([])
  } finally {
    await destroyRuntime(rt)
  }
})
