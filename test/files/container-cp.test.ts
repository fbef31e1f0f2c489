// docker cp, archives and stat on real containers, running and stopped, through Container.withFilesystem.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Readable } from 'node:stream'
import * as tar from 'tar-stream'
import { Image, run, Container, type Runtime } from '../../lib'
import { copyFrom, copyTo, getArchive, getArchiveWith, putArchive, statPath } from '../../lib/files'
import { busyboxImage, destroyRuntime, tempRuntime } from '../helpers'
import { Scratch, md5, snapshot } from './helpers'

let runtime: Runtime
const scratch = new Scratch()

beforeAll(async () => {
  runtime = tempRuntime('mc-files-rt-')
  await Image.fromHost({ runtime })
  await busyboxImage(runtime)
})
afterAll(() => destroyRuntime(runtime))
afterEach(() => scratch.cleanup(() => {}))

/** Force-removes, retrying once: just after a stopped container's filesystem was opened, its held shim may still be writing its exit file. */
async function removeContainer(c: Container): Promise<void> {
  try {
    await c.remove({ force: true })
  } catch (err) {
    console.warn(`remove retried after: ${(err as Error).message}`)
    await new Promise((r) => setTimeout(r, 200))
    await c.remove({ force: true })
  }
}

async function sh(c: Container, script: string): Promise<string> {
  const r = await c.exec(['sh', '-c', script])
  if (r.exitCode !== 0) throw new Error(`exec failed (${r.exitCode}): ${r.stderr}`)
  return r.stdout
}

test('seed 000 on a running container: a.txt in, back out as b.txt, equal md5 (and md5sum inside agrees)', async () => {
  const host = scratch.dir('mc-files-host-')
  fs.writeFileSync(path.join(host, 'a.txt'), `seed 000 ${Math.random()}\n`.repeat(5000))
  const c = await run('bb', ['sleep', '60'], { runtime })
  try {
    await c.withFilesystem((root) => copyTo(root, path.join(host, 'a.txt'), '/tmp/'))
    expect((await sh(c, 'md5sum /tmp/a.txt')).split(' ')[0]).toBe(md5(path.join(host, 'a.txt')))
    await c.withFilesystem((root) => copyFrom(root, '/tmp/a.txt', path.join(host, 'b.txt')))
    expect(md5(path.join(host, 'b.txt'))).toBe(md5(path.join(host, 'a.txt')))
  } finally {
    await removeContainer(c)
  }
})

test('docker cp rules on a running container, both directions, checked from inside', async () => {
  const host = scratch.dir('mc-files-host-')
  fs.mkdirSync(path.join(host, 'dir', 'sub'), { recursive: true })
  fs.writeFileSync(path.join(host, 'dir', 'sub', 'f'), 'F')
  fs.writeFileSync(path.join(host, 'file'), 'FILE')
  const c = await run('bb', ['sleep', '60'], { runtime })
  try {
    await c.withFilesystem(async (root) => {
      await copyTo(root, path.join(host, 'file'), '/tmp/new') // file -> missing
      await copyTo(root, path.join(host, 'dir'), '/tmp/newdir') // dir -> missing
      await copyTo(root, path.join(host, 'dir'), '/tmp') // dir -> existing dir
      await copyTo(root, `${host}/dir/.`, '/root') // contents
      await expect(copyTo(root, path.join(host, 'file'), '/tmp/nope/x')).rejects.toMatchObject({ code: 'ENOTDIR' })
      await expect(copyTo(root, path.join(host, 'file'), '/tmp/nodir/')).rejects.toMatchObject({ code: 'ENOTDIR' })
      await expect(copyTo(root, path.join(host, 'dir'), '/tmp/new')).rejects.toMatchObject({ code: 'EISDIR' })
      await expect(copyFrom(root, '/no/such', path.join(host, 'x'))).rejects.toMatchObject({ code: 'ENOTFOUND' })
    })
    expect(await sh(c, 'cat /tmp/new /tmp/newdir/sub/f /tmp/dir/sub/f /root/sub/f')).toBe('FILEFFF')
    await sh(c, 'mkdir -p /made/inside && echo inside > /made/inside/x && ln -s x /made/inside/l && chmod 0751 /made/inside')
    await c.withFilesystem((root) => copyFrom(root, '/made', path.join(host, 'out')))
    expect(fs.readFileSync(path.join(host, 'out', 'inside', 'x'), 'utf8')).toBe('inside\n')
    expect(fs.readlinkSync(path.join(host, 'out', 'inside', 'l'))).toBe('x')
    expect(fs.statSync(path.join(host, 'out', 'inside')).mode & 0o7777).toBe(0o751)
  } finally {
    await removeContainer(c)
  }
})

test('a stopped container: copy in, start it and see the file; copy out what it wrote', async () => {
  const host = scratch.dir('mc-files-host-')
  fs.writeFileSync(path.join(host, 'conf'), 'configured\n')
  const c = await Container.create('bb', ['sh', '-c', 'cat /etc/conf; echo made-by-run > /tmp/out'], { runtime })
  try {
    await c.withFilesystem((root) => copyTo(root, path.join(host, 'conf'), '/etc/conf'))
    expect((await c.withFilesystem((root) => statPath(root, '/etc/conf'))).size).toBe(11)
    await c.start()
    expect(await c.wait()).toMatchObject({ exitCode: 0 })
    await c.withFilesystem((root) => copyFrom(root, '/tmp/out', path.join(host, 'out')))
    expect(fs.readFileSync(path.join(host, 'out'), 'utf8')).toBe('made-by-run\n')
    // An archive of a stopped container stays readable after the call returns (the root is held while it streams).
    const { stream, stat } = await getArchiveWith((fn) => c.withFilesystem(fn), '/etc')
    expect(stat.name).toBe('etc')
    let bytes = 0
    for await (const ch of stream) bytes += (ch as Buffer).length
    expect(bytes).toBeGreaterThan(2048)
    // Image content is readable from the stopped container too.
    await c.withFilesystem((root) => copyFrom(root, '/etc/passwd', path.join(host, 'passwd')))
    expect(fs.readFileSync(path.join(host, 'passwd'), 'utf8')).toContain('app:x:1000')
  } finally {
    await removeContainer(c)
  }
})

test('a read-only root (readOnly: true) fails with EROFS, running and stopped', async () => {
  const host = scratch.dir('mc-files-host-')
  fs.writeFileSync(path.join(host, 'f'), 'F')
  const c = await run('bb', ['sleep', '60'], { runtime, readOnly: true })
  try {
    await expect(c.withFilesystem((root) => copyTo(root, path.join(host, 'f'), '/etc/f'))).rejects.toMatchObject({ code: 'EROFS', reason: 'read-only' })
    await expect(c.withFilesystem((root) => copyTo(root, host, '/'))).rejects.toMatchObject({ code: 'EROFS' })
    // Reading still works.
    await c.withFilesystem((root) => copyFrom(root, '/etc/passwd', path.join(host, 'passwd')))
    await c.kill()
    await c.wait()
    await expect(c.withFilesystem((root) => copyTo(root, path.join(host, 'f'), '/etc/f'))).rejects.toMatchObject({ code: 'EROFS' })
  } finally {
    await removeContainer(c)
  }
})

test('copies under a bind mount (-v) land in the host directory, running and stopped; :ro gives EROFS', async () => {
  const host = scratch.dir('mc-files-host-')
  const shared = scratch.dir('mc-files-bind-')
  const ro = scratch.dir('mc-files-bindro-')
  fs.writeFileSync(path.join(host, 'f'), 'through the bind')
  const c = await run('bb', ['sleep', '60'], { runtime, volumes: [`${shared}:/data`, `${ro}:/rodata:ro`] })
  try {
    await c.withFilesystem((root) => copyTo(root, path.join(host, 'f'), '/data/f'))
    expect(fs.readFileSync(path.join(shared, 'f'), 'utf8')).toBe('through the bind')
    await expect(c.withFilesystem((root) => copyTo(root, path.join(host, 'f'), '/rodata/f'))).rejects.toMatchObject({ code: 'EROFS' })
    fs.writeFileSync(path.join(shared, 'from-host'), 'H')
    await c.withFilesystem((root) => copyFrom(root, '/data/from-host', path.join(host, 'back')))
    expect(fs.readFileSync(path.join(host, 'back'), 'utf8')).toBe('H')
    await c.kill()
    await c.wait()
    await c.withFilesystem((root) => copyTo(root, path.join(host, 'f'), '/data/stopped'))
    expect(fs.readFileSync(path.join(shared, 'stopped'), 'utf8')).toBe('through the bind')
  } finally {
    await removeContainer(c)
  }
})

test("a copy or an archive onto a bind-mounted file (-v file:/etc/cfg) rewrites the host file, running and stopped, as docker cp does: the container's mount is not one in the caller's namespace, where a rename over it succeeds and hides the new file under the mount", async () => {
  const host = scratch.dir('mc-files-host-')
  const bound = path.join(scratch.dir('mc-files-bindfile-'), 'cfg')
  fs.writeFileSync(bound, 'old, longer than the new contents\n')
  fs.writeFileSync(path.join(host, 'cfg'), 'copied\n', { mode: 0o640 })
  const archive = (body: string) => {
    const pack = tar.pack()
    pack.entry({ name: 'cfg', mode: 0o600 }, body)
    pack.finalize()
    return pack
  }
  const c = await run('bb', ['sleep', '60'], { runtime, volumes: [`${bound}:/etc/cfg`] })
  try {
    await c.copyTo(path.join(host, 'cfg'), '/etc/cfg')
    expect([fs.readFileSync(bound, 'utf8'), fs.statSync(bound).mode & 0o777]).toEqual(['copied\n', 0o640])
    expect(await sh(c, 'cat /etc/cfg')).toBe('copied\n')
    await c.putArchive('/etc', Readable.from(archive('archived\n')))
    expect([fs.readFileSync(bound, 'utf8'), fs.statSync(bound).mode & 0o777]).toEqual(['archived\n', 0o600])
    await c.kill()
    await c.wait()
    await c.putArchive('/etc', Readable.from(archive('stopped\n')))
    expect(fs.readFileSync(bound, 'utf8')).toBe('stopped\n')
  } finally {
    await removeContainer(c)
  }
})

test('a symlink copied or archived onto a bind-mounted file is refused with EINUSE (Docker: device or resource busy), running and stopped: nothing changes on either side, nothing lands hidden under the mount', async () => {
  const host = scratch.dir('mc-files-host-')
  const bound = path.join(scratch.dir('mc-files-bindfile-'), 'cfg')
  fs.writeFileSync(bound, 'bound\n')
  fs.symlinkSync('/etc/passwd', path.join(host, 'cfg'))
  const linkArchive = () => {
    const pack = tar.pack()
    pack.entry({ name: 'cfg', type: 'symlink', linkname: '/etc/passwd' })
    pack.finalize()
    return Readable.from(pack)
  }
  const refused = { code: 'EINUSE', reason: 'mount-point' }
  const c = await run('bb', ['sleep', '60'], { runtime, volumes: [`${bound}:/etc/cfg`] })
  try {
    await expect(c.copyTo(path.join(host, 'cfg'), '/etc/cfg')).rejects.toMatchObject(refused)
    await expect(c.putArchive('/etc', linkArchive())).rejects.toMatchObject(refused)
    expect(await sh(c, 'cat /etc/cfg; ls /etc | grep -c "^.mc-" || true')).toBe('bound\n0\n')
    await c.kill()
    await c.wait()
    await expect(c.putArchive('/etc', linkArchive())).rejects.toMatchObject(refused)
    expect(fs.readFileSync(bound, 'utf8')).toBe('bound\n')
  } finally {
    await removeContainer(c)
  }
})

test('a copy into a named volume lands in the volume (seen by another container)', async () => {
  const host = scratch.dir('mc-files-host-')
  fs.writeFileSync(path.join(host, 'page.html'), '<h1>copied</h1>')
  const name = `mcfiles${Date.now().toString(36)}`
  const a = await run('bb', ['sleep', '60'], { runtime, volumes: [`${name}:/usr/share/html`] })
  try {
    await a.withFilesystem((root) => copyTo(root, path.join(host, 'page.html'), '/usr/share/html/'))
  } finally {
    await removeContainer(a)
  }
  const b = await run('bb', ['cat', '/srv/page.html'], { runtime, volumes: [`${name}:/srv:ro`] })
  try {
    await b.wait()
    const { text } = await import('../helpers')
    expect(await text(b.logs())).toBe('<h1>copied</h1>')
  } finally {
    await removeContainer(b)
  }
})

test('archives and stat on a running container', async () => {
  const c = await run('bb', ['sleep', '60'], { runtime })
  try {
    await sh(c, 'mkdir /data && echo one > /data/1 && ln -s /data/1 /data/l')
    const { stream, stat } = await c.withFilesystem((root) => getArchive(root, '/data'))
    expect(stat).toMatchObject({ name: 'data', linkTarget: '' })
    const chunks: Buffer[] = []
    for await (const ch of stream) chunks.push(ch as Buffer)
    await c.withFilesystem((root) => putArchive(root, '/tmp', Buffer.concat(chunks)))
    expect(await sh(c, 'cat /tmp/data/1; readlink /tmp/data/l')).toBe('one\n/data/1\n')
    expect((await c.withFilesystem((root) => statPath(root, '/data/l'))).linkTarget).toBe('/data/1')
  } finally {
    await removeContainer(c)
  }
})

test('a hostile running container cannot make a copy touch host files', async () => {
  const host = scratch.dir('mc-files-host-')
  const canary = scratch.dir('mc-canary-')
  fs.writeFileSync(path.join(canary, 'secret'), 'HOST SECRET')
  const before = snapshot(canary, { withDirTimes: true })
  fs.writeFileSync(path.join(host, 'payload'), 'PAYLOAD')
  // The container flips /sw between a real dir and links to / and to the host canary's path, as fast as it can.
  const c = await run('bb', ['sh', '-c', `mkdir -p /real; echo inner > /real/secret; ln -s ${canary} /abs; ln -s ../../../../..${canary} /rel;
    while true; do ln -sfn / /sw; ln -sfn ${canary} /sw; rm -f /sw; mv /real /sw; mv /sw /real; ln -sfn ../../../../../..${canary} /sw; done`], { runtime })
  try {
    // Wait for the loop to run: /sw exists.
    for (let t = 0; ; t++) {
      const st = await c.withFilesystem((root) => statPath(root, '/sw')).catch(() => undefined)
      if (st) break
      if (t > 200) throw new Error('the container loop did not start')
      await new Promise((r) => setTimeout(r, 50))
    }
    let ok = 0
    for (let i = 0; i < 150; i++) {
      const results = await c.withFilesystem((root) =>
        Promise.allSettled([
          copyFrom(root, '/sw/secret', path.join(host, `o${i}`)),
          copyFrom(root, '/sw', path.join(host, `d${i}`), { followLink: true }),
          copyTo(root, path.join(host, 'payload'), '/sw/secret'),
          copyTo(root, path.join(host, 'payload'), `/sw/n${i}`),
          copyFrom(root, '/abs/secret', path.join(host, `a${i}`)),
          copyFrom(root, '/rel/secret', path.join(host, `r${i}`)),
        ]),
      )
      ok += results.filter((r) => r.status === 'fulfilled').length
    }
    expect(ok).toBeGreaterThan(0)
  } finally {
    await removeContainer(c)
  }
  expect(snapshot(canary, { withDirTimes: true })).toEqual(before)
  const leaked = fs.readdirSync(host).filter((n) => {
    const p = path.join(host, n)
    const walk = (q: string): boolean => {
      const st = fs.lstatSync(q)
      if (st.isFile()) return fs.readFileSync(q, 'utf8').includes('HOST SECRET')
      return st.isDirectory() && fs.readdirSync(q).some((m) => walk(path.join(q, m)))
    }
    return walk(p)
  })
  expect(leaked).toEqual([])
})

test('copies racing remove({ force: true }), running and stopped: each succeeds or says ENOCONTAINER / ENOTRUNNING, never EINVALID about /proc/<pid>/root', async () => {
  const host = scratch.dir()
  fs.writeFileSync(path.join(host, 'in.txt'), 'x'.repeat(64 * 1024))
  const seen: Record<string, number> = {}
  const unexpected: string[] = []
  for (let i = 0; i < 16; i++) {
    const running = i % 2 === 0
    const c = running ? await run('bb', ['sleep', '1000'], { runtime, network: 'none' }) : await Container.create('bb', ['true'], { runtime, network: 'none' })
    const out = path.join(host, `out-${i}`)
    // The copies start a little later each round after the removal, so they meet it at different steps.
    const removal = c.remove({ force: true })
    await new Promise((r) => setTimeout(r, i >> 1))
    const copies = [c.copyTo(path.join(host, 'in.txt'), '/tmp/in.txt'), c.copyFrom('/bin', out), c.statPath('/etc/passwd')]
    const outcomes = await Promise.allSettled([...copies, removal])
    expect(outcomes[3]).toEqual({ status: 'fulfilled', value: undefined })
    for (const o of outcomes.slice(0, 3)) {
      const code = o.status === 'fulfilled' ? 'ok' : String((o.reason as { code?: string }).code)
      seen[code] = (seen[code] ?? 0) + 1
      if (!['ok', 'ENOCONTAINER', 'ENOTRUNNING'].includes(code)) unexpected.push(`${code}: ${(o as PromiseRejectedResult).reason.message}`)
    }
  }
  console.log(`copies racing remove: ${JSON.stringify(seen)}`)
  expect(unexpected).toEqual([])
}, 120_000)
