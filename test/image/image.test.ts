import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { execFileSync } from 'node:child_process'
import { Image, run, type Runtime } from '../../lib'
import { busyboxRootfs, destroyRuntime, tempRuntime, text } from '../helpers'

let runtime: Runtime
let work: string

beforeAll(() => {
  runtime = tempRuntime()
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-img-'))
})
afterAll(async () => {
  await destroyRuntime(runtime)
  fs.rmSync(work, { recursive: true, force: true })
})

function rootfs(name: string): string {
  const dir = path.join(work, name)
  fs.mkdirSync(dir)
  return busyboxRootfs(dir)
}

test('import a directory, a tar and a tar.gz; each runs', async () => {
  const dir = rootfs('dir')
  fs.writeFileSync(path.join(dir, 'etc/owned'), 'x')
  fs.chownSync(path.join(dir, 'etc/owned'), 1234, 5678)
  fs.linkSync(path.join(dir, 'etc/motd'), path.join(dir, 'etc/motd.link'))
  execFileSync('tar', ['-C', dir, '-cf', path.join(work, 'root.tar'), '.'])
  execFileSync('tar', ['-C', dir, '-czf', path.join(work, 'root.tgz'), '.'])
  for (const [src, ref] of [[dir, 'fromdir:1'], [path.join(work, 'root.tar'), 'fromtar:1'], [path.join(work, 'root.tgz'), 'fromtgz:1']]) {
    const img = await Image.import(src, { runtime, ref })
    expect(img.refs).toContain(ref)
    const c = await run(ref, ['sh', '-c', 'cat /etc/motd; stat -c "%u:%g %h" /etc/owned /etc/motd'], { runtime })
    expect(await c.wait()).toEqual({ exitCode: 0 })
    expect(await text(c.logs())).toBe('from the image\n1234:5678 1\n0:0 2\n')
    await c.remove()
  }
  // The same content imported twice is stored once (content-addressed layers).
  const a = await Image.get('fromtar:1', { runtime })
  const b = await Image.import(path.join(work, 'root.tar'), { runtime, ref: 'again' })
  expect(b.id).toBe(a.id)
  expect(b.layerDirs).toEqual(a.layerDirs)
})

test('get by ref, by "name" meaning name:latest, by id prefix; list; remove', async () => {
  const dir = rootfs('lookup')
  const img = await Image.import(dir, { runtime, ref: 'lookup' })
  expect((await Image.get('lookup:latest', { runtime })).id).toBe(img.id)
  expect((await Image.get('lookup', { runtime })).id).toBe(img.id)
  expect((await Image.get(img.id.slice(7, 19), { runtime })).id).toBe(img.id)
  expect((await Image.list({ runtime })).map((i) => i.id)).toContain(img.id)
  const c = await run('lookup', ['true'], { runtime })
  await expect(img.remove()).rejects.toMatchObject({ code: 'EINUSE' })
  await c.wait()
  await c.remove()
  const layer = img.layerDirs[0]
  // The layer is shared with images imported from the same content; remove all of them.
  for (const other of await Image.list({ runtime })) if (other.id === img.id) await other.remove()
  await expect(Image.get('lookup', { runtime })).rejects.toMatchObject({ code: 'ENOIMAGE' })
  expect(fs.existsSync(layer)).toBe(false)
})

test('fromHost runs host programs with /usr read-only and no host secrets', async () => {
  await Image.fromHost({ runtime })
  const c = await run('host', ['sh', '-c', 'ls /root /home | wc -l; test -e /etc/shadow && echo shadow; touch /usr/x 2>&1; python3 -c "print(6*7)"'], { runtime })
  await c.wait()
  const out = await text(c.logs())
  expect(out).not.toContain('shadow')
  expect(out).toMatch(/Read-only file system/)
  expect(out).toMatch(/^42$/m)
  await c.remove()
})

test('bad sources and refs are clear errors', async () => {
  await expect(Image.import('/no/such/path', { runtime })).rejects.toMatchObject({ code: 'ENOTFOUND' })
  await expect(Image.import(work, { runtime, ref: 'Bad Ref' })).rejects.toMatchObject({ code: 'EINVALID' })
  fs.writeFileSync(path.join(work, 'garbage.tar'), 'not a tar at all'.repeat(100))
  await expect(Image.import(path.join(work, 'garbage.tar'), { runtime })).rejects.toMatchObject({ code: 'EINVALID' })
})

test('an archive escaping its root is rejected and writes nothing outside', async () => {
  const evil = path.join(work, 'evil')
  fs.mkdirSync(path.join(evil, 'sub'), { recursive: true })
  fs.writeFileSync(path.join(evil, 'payload'), 'pwned')
  const canary = path.join(work, 'canary')
  // ../canary entry via tar's --transform; and a symlink followed by a write through it.
  execFileSync('tar', ['-C', evil, '-cf', path.join(work, 'dotdot.tar'), '--transform', 's,^payload,../canary,', 'payload'])
  await expect(Image.import(path.join(work, 'dotdot.tar'), { runtime })).rejects.toMatchObject({ code: 'EUNSAFE' })
  // A symlink to the host followed by a write through it resolves inside the layer, never on the host:
  // here the link's target does not exist in the layer, so the archive is refused.
  fs.symlinkSync(work, path.join(evil, 'link'))
  execFileSync('tar', ['-C', evil, '-cf', path.join(work, 'symlink.tar'), 'link', '--transform', 's,^payload,link/canary,', 'payload'])
  await expect(Image.import(path.join(work, 'symlink.tar'), { runtime, ref: 'confined' })).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringContaining('ENOENT') })
  expect(fs.existsSync(canary)).toBe(false)
  expect(fs.readdirSync(path.join(runtime.root, 'layers/tmp'))).toEqual([])
})

test('importing two directories that differ only in file bytes gives two images (contents are hashed)', async () => {
  const a = path.join(work, 'same-a')
  const b = path.join(work, 'same-b')
  for (const [dir, byte] of [[a, 'x'], [b, 'y']]) {
    fs.mkdirSync(dir)
    fs.writeFileSync(path.join(dir, 'f'), byte.repeat(10))
    fs.utimesSync(path.join(dir, 'f'), 1000, 1000)
    fs.utimesSync(dir, 1000, 1000)
  }
  const ia = await Image.import(a, { runtime })
  const ib = await Image.import(b, { runtime })
  expect(ia.id).not.toBe(ib.id)
  expect(fs.readFileSync(path.join(ib.layerDirs[0], 'f'), 'utf8')).toBe('yyyyyyyyyy')
  await ia.remove()
  await ib.remove()
})
