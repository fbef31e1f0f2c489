// Copies that meet mounts inside the root: read-only mounts and roots (EROFS), volumes (other filesystems), bind-mounted files.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Readable } from 'node:stream'
import * as tar from 'tar-stream'
import { copyFrom, copyTo, putArchive } from '../../lib/files'
import { MNT_DETACH, MS_BIND, MS_RDONLY, MS_REMOUNT, mount, umount2 } from '../../lib/sys/libc'
import { attrs, requireXattrTools, sh } from '../image/xattr-fixture'
import { Scratch, leftovers, makeTree, snapshot } from './helpers'

const scratch = new Scratch()
afterEach(() => scratch.cleanup((m) => umount2(m, MNT_DETACH)))

function tmpfs(target: string, readOnly = false): void {
  fs.mkdirSync(target, { recursive: true })
  mount('tmpfs', target, 'tmpfs', 0, 'size=16m,mode=755')
  scratch.mounted(target)
  if (readOnly) mount(null, target, null, MS_REMOUNT | MS_RDONLY, 'size=16m')
}

function bind(source: string, target: string): void {
  mount(source, target, null, MS_BIND)
  scratch.mounted(target)
}

async function oneFileTar(): Promise<Buffer> {
  const pack = tar.pack()
  pack.entry({ name: 'x' }, 'x')
  pack.finalize()
  const chunks: Buffer[] = []
  for await (const c of pack) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

test('copies into a read-only mount fail with EROFS and change nothing', async () => {
  const root = scratch.dir('mc-files-root-')
  const host = scratch.dir('mc-files-host-')
  tmpfs(path.join(root, 'ro'), true)
  fs.writeFileSync(path.join(host, 'f'), 'F')
  makeTree(host, 't')
  await expect(copyTo(root, path.join(host, 'f'), '/ro/f')).rejects.toMatchObject({ code: 'EROFS', reason: 'read-only' })
  await expect(copyTo(root, path.join(host, 't'), '/ro')).rejects.toMatchObject({ code: 'EROFS' })
  await expect(copyTo(root, path.join(host, 't'), '/ro/new')).rejects.toMatchObject({ code: 'EROFS' })
  await expect(putArchive(root, '/ro', await oneFileTar())).rejects.toMatchObject({ code: 'EROFS' })
  expect(fs.readdirSync(path.join(root, 'ro'))).toEqual([])
  // Reading from it works.
  await copyFrom(root, '/ro/.', path.join(host, 'out'))
})

test('a read-only mount below the destination fails the whole copy before anything moves', async () => {
  const root = scratch.dir('mc-files-root-')
  const host = scratch.dir('mc-files-host-')
  tmpfs(path.join(root, 'ro'), true)
  fs.writeFileSync(path.join(root, 'existing'), 'old')
  fs.mkdirSync(path.join(host, 'tree', 'ro'), { recursive: true })
  fs.writeFileSync(path.join(host, 'tree', 'aaa-first'), 'A')
  fs.writeFileSync(path.join(host, 'tree', 'existing'), 'new')
  fs.writeFileSync(path.join(host, 'tree', 'ro', 'x'), 'X')
  const before = snapshot(root, { withDirTimes: true })
  await expect(copyTo(root, `${host}/tree/.`, '/')).rejects.toMatchObject({ code: 'EROFS' })
  expect(snapshot(root, { withDirTimes: true })).toEqual(before)
})

test('a read-only root fails with EROFS, while a writable volume under it takes the copy', async () => {
  const base = scratch.dir('mc-files-root-')
  const root = path.join(base, 'rootfs')
  const host = scratch.dir('mc-files-host-')
  tmpfs(root)
  fs.mkdirSync(path.join(root, 'data'))
  mount(null, root, null, MS_REMOUNT | MS_RDONLY, 'size=16m')
  const vol = scratch.dir('mc-files-vol-')
  bind(vol, path.join(root, 'data'))
  fs.writeFileSync(path.join(host, 'f'), 'F')
  await expect(copyTo(root, path.join(host, 'f'), '/f')).rejects.toMatchObject({ code: 'EROFS' })
  await copyTo(root, path.join(host, 'f'), '/data/f')
  expect(fs.readFileSync(path.join(vol, 'f'), 'utf8')).toBe('F')
})

test('merging a tree over / lands entries under a volume mount in the volume (cross-filesystem renames)', async () => {
  const root = scratch.dir('mc-files-root-')
  const host = scratch.dir('mc-files-host-')
  tmpfs(path.join(root, 'vol'))
  fs.writeFileSync(path.join(root, 'vol', 'existing'), 'E')
  const t = makeTree(host, 'tree')
  fs.mkdirSync(path.join(t, 'vol', 'sub'), { recursive: true })
  fs.writeFileSync(path.join(t, 'vol', 'a'), 'A')
  fs.writeFileSync(path.join(t, 'vol', 'sub', 'b'), 'B')
  fs.writeFileSync(path.join(t, 'vol', 'existing'), 'replaced')
  await copyTo(root, `${t}/.`, '/')
  expect(fs.readFileSync(path.join(root, 'vol', 'a'), 'utf8')).toBe('A')
  expect(fs.readFileSync(path.join(root, 'vol', 'sub', 'b'), 'utf8')).toBe('B')
  expect(fs.readFileSync(path.join(root, 'vol', 'existing'), 'utf8')).toBe('replaced')
  expect(snapshot(path.join(root, 'sub'))).toEqual(snapshot(path.join(t, 'sub')))
  expect(leftovers(root)).toEqual([])
  // It is in the tmpfs, not hidden under it.
  umount2(path.join(root, 'vol'), MNT_DETACH)
  expect(fs.readdirSync(path.join(root, 'vol'))).toEqual([])
})

test("an archive's entries landing under a volume mount keep their attributes (user.*, trusted.*, a capability), as those landing beside it do: copied across, not dropped; no staging directory is left", async () => {
  requireXattrTools()
  const root = scratch.dir('mc-files-root-')
  const src = scratch.dir('mc-files-host-')
  tmpfs(path.join(root, 'vol'))
  for (const top of ['vol', 'beside']) {
    fs.mkdirSync(path.join(src, top, 'sub'), { recursive: true })
    fs.writeFileSync(path.join(src, top, 'sub/f'), 'F\n')
    sh('setcap', ['cap_net_raw+ep', path.join(src, top, 'sub/f')])
    sh('setfattr', ['-n', 'user.note', '-v', 'on f', path.join(src, top, 'sub/f')])
    sh('setfattr', ['-n', 'trusted.mc', '-v', '0x80', path.join(src, top, 'sub/f')])
    sh('setfattr', ['-n', 'user.dir', '-v', 'on sub', path.join(src, top, 'sub')])
    fs.chmodSync(path.join(src, top, 'sub/f'), 0o444)
    fs.chmodSync(path.join(src, top, 'sub'), 0o555)
  }
  const tarFile = path.join(scratch.dir('mc-files-tar-'), 'in.tar')
  sh('tar', ['--xattrs', '--xattrs-include=*', '-C', src, '-cf', tarFile, 'vol', 'beside'])
  await putArchive(root, '/', Readable.from([fs.readFileSync(tarFile)]))
  const seen = (top: string) => ['sub', 'sub/f'].map((rel) => [attrs(path.join(root, top, rel)), (fs.lstatSync(path.join(root, top, rel)).mode & 0o777).toString(8)])
  expect(seen('vol')).toEqual(seen('beside'))
  expect(seen('vol')).toEqual([
    [attrs(path.join(src, 'vol/sub')), '555'],
    [attrs(path.join(src, 'vol/sub/f')), '444'],
  ])
  expect(attrs(path.join(root, 'vol/sub/f'))).toMatch(/^security\.capability=0x/m)
  expect(attrs(path.join(root, 'vol/sub/f'))).toMatch(/^trusted\.mc=0x80$/m)
  expect(leftovers(root)).toEqual([])
  // In the tmpfs, not hidden under it.
  umount2(path.join(root, 'vol'), MNT_DETACH)
  expect(fs.readdirSync(path.join(root, 'vol'))).toEqual([])
})

/** A root whose /cfg is a bind mount of the host directory's file `bound` ("original"). */
function boundFile(): { root: string; host: string } {
  const root = scratch.dir('mc-files-root-')
  const host = scratch.dir('mc-files-host-')
  fs.writeFileSync(path.join(host, 'bound'), 'original')
  fs.writeFileSync(path.join(root, 'cfg'), '')
  bind(path.join(host, 'bound'), path.join(root, 'cfg'))
  return { root, host }
}

test('a bind-mounted file is rewritten in place (the copy lands in the bind source)', async () => {
  const { root, host } = boundFile()
  fs.writeFileSync(path.join(host, 'new'), 'updated content')
  await copyTo(root, path.join(host, 'new'), '/cfg')
  expect(fs.readFileSync(path.join(host, 'bound'), 'utf8')).toBe('updated content')
  expect(leftovers(root)).toEqual([])
})

test('a symlink (copied, or an archive entry) never replaces a bind-mounted file: EINUSE, the bind source untouched, as Docker refuses it (device or resource busy)', async () => {
  const { root, host } = boundFile()
  fs.symlinkSync('elsewhere', path.join(host, 'link'))
  await expect(copyTo(root, path.join(host, 'link'), '/cfg')).rejects.toMatchObject({ code: 'EINUSE', reason: 'mount-point', message: expect.stringContaining('with a symlink: it is a mount point') })
  const pack = tar.pack()
  pack.entry({ name: 'cfg', type: 'symlink', linkname: 'elsewhere' })
  pack.finalize()
  await expect(putArchive(root, '/', Readable.from(pack))).rejects.toMatchObject({ code: 'EINUSE', reason: 'mount-point' })
  expect(fs.readFileSync(path.join(host, 'bound'), 'utf8')).toBe('original')
  expect(fs.lstatSync(path.join(root, 'cfg')).isFile()).toBe(true)
  expect(leftovers(root)).toEqual([])
})
