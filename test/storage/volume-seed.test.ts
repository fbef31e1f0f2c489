// Seeding an empty volume from image layer dirs built here: merged view, whiteouts, opaque dirs,
// ownership, modes, mtimes, symlinks, hard links, and symlinks that try to lead out of the layers.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { execFileSync } from 'node:child_process'
import koffi from 'koffi'
import { seedVolume, seedVolumes } from '../../lib/storage/volume-seed'
import { VolumeStore } from '../../lib/storage/volumes'
import type { ResolvedMount } from '../../lib/storage/mount-types'
import { spawnNode } from '../tools/node-child'
import { put, tempRoot } from './helpers'

const lsetxattr = koffi.load('libc.so.6').func('int lsetxattr(const char *path, const char *name, const char *value, size_t size, int flags)')

const T_OLD = new Date('2001-02-03T04:05:06Z')
const T_DIR = new Date('2002-03-04T05:06:07Z')

let root: string
let cleanup: () => void
let outside: string
let top: string
let bottom: string
let store: VolumeStore

function whiteout(file: string): void {
  execFileSync('mknod', [file, 'c', '0', '0']) // Node cannot mknod; the tool only sets up the fixture
}

function opaque(dir: string): void {
  if (lsetxattr(dir, 'trusted.overlay.opaque', 'y', 1, 0) !== 0) throw new Error(`setxattr ${dir} failed`)
}

function buildLayers(): void {
  // bottom layer
  put(path.join(bottom, 'data/a.txt'), 'bottom a')
  put(path.join(bottom, 'data/gone.txt'), 'whited out above')
  put(path.join(bottom, 'data/old/x.txt'), 'hidden by opaque dir')
  put(path.join(bottom, 'data/sub/b.txt'), 'b', 0o600)
  fs.chownSync(path.join(bottom, 'data/sub/b.txt'), 1000, 1001)
  fs.utimesSync(path.join(bottom, 'data/sub/b.txt'), T_OLD, T_OLD)
  put(path.join(bottom, 'data/setuid'), '#!/bin/sh', 0o4755)
  fs.chownSync(path.join(bottom, 'data/setuid'), 0, 0)
  fs.chmodSync(path.join(bottom, 'data/setuid'), 0o4755)
  put(path.join(bottom, 'data/hard1'), 'same inode')
  fs.linkSync(path.join(bottom, 'data/hard1'), path.join(bottom, 'data/hard2'))
  fs.symlinkSync('a.txt', path.join(bottom, 'data/rel-link'))
  fs.lchownSync(path.join(bottom, 'data/rel-link'), 7, 8)
  fs.symlinkSync(path.join(outside, 'secret'), path.join(bottom, 'data/abs-link'))
  put(path.join(bottom, 'lib-real/data-dir/real.txt'), 'through a link')
  fs.chownSync(path.join(bottom, 'data/sub'), 33, 33)
  fs.chmodSync(path.join(bottom, 'data/sub'), 0o750)
  fs.utimesSync(path.join(bottom, 'data/sub'), T_DIR, T_DIR)
  // top layer
  put(path.join(top, 'data/a.txt'), 'top a')
  whiteout(path.join(top, 'data/gone.txt'))
  put(path.join(top, 'data/old/y.txt'), 'only this')
  opaque(path.join(top, 'data/old'))
  put(path.join(top, 'data/sub/c.txt'), 'c')
  fs.chownSync(path.join(top, 'data/sub'), 33, 33)
  fs.chmodSync(path.join(top, 'data/sub'), 0o750)
  fs.utimesSync(path.join(top, 'data/sub'), T_DIR, T_DIR)
  fs.chownSync(path.join(top, 'data'), 101, 102)
  fs.chmodSync(path.join(top, 'data'), 0o2775)
  fs.symlinkSync('/lib-real/data-dir', path.join(top, 'srv')) // crosses layers
  fs.symlinkSync('../../../../../../..' + outside, path.join(top, 'escape-rel'))
  fs.symlinkSync(outside, path.join(top, 'escape-abs'))
  fs.symlinkSync('/', path.join(top, 'root-link'))
}

beforeEach(() => {
  ;({ root, cleanup } = tempRoot())
  outside = path.join(root, 'host-outside')
  put(path.join(outside, 'secret'), 'host secret')
  top = path.join(root, 'layers/top')
  bottom = path.join(root, 'layers/bottom')
  fs.mkdirSync(top, { recursive: true })
  fs.mkdirSync(bottom, { recursive: true })
  buildLayers()
  store = new VolumeStore(root)
})
afterEach(() => cleanup())

async function newVolume(name: string): Promise<string> {
  await store.create(name)
  return store.paths(name).data
}

function tree(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true }).map(String).sort()
}

test('copies the merged view: upper wins, whiteouts and opaque dirs hide lower content', async () => {
  const data = await newVolume('merged')
  await seedVolume(data, [top, bottom], '/data')
  expect(tree(data)).toEqual(['a.txt', 'abs-link', 'hard1', 'hard2', 'old', 'old/y.txt', 'rel-link', 'setuid', 'sub', 'sub/b.txt', 'sub/c.txt'])
  expect(fs.readFileSync(path.join(data, 'a.txt'), 'utf8')).toBe('top a')
  expect(store.find('merged')?.seeded).toBe(true)
})

test('preserves ownership, modes, mtimes, symlinks and hard links', async () => {
  const data = await newVolume('attrs')
  await seedVolume(data, [top, bottom], '/data')
  const b = fs.statSync(path.join(data, 'sub/b.txt'))
  expect([b.uid, b.gid, b.mode & 0o7777, b.mtime.getTime()]).toEqual([1000, 1001, 0o600, T_OLD.getTime()])
  const sub = fs.statSync(path.join(data, 'sub'))
  expect([sub.uid, sub.gid, sub.mode & 0o7777, sub.mtime.getTime()]).toEqual([33, 33, 0o750, T_DIR.getTime()])
  expect(fs.statSync(path.join(data, 'setuid')).mode & 0o7777).toBe(0o4755)
  const link = fs.lstatSync(path.join(data, 'rel-link'))
  expect(link.isSymbolicLink()).toBe(true)
  expect([link.uid, link.gid]).toEqual([7, 8])
  expect(fs.readlinkSync(path.join(data, 'rel-link'))).toBe('a.txt')
  expect(fs.statSync(path.join(data, 'hard1')).ino).toBe(fs.statSync(path.join(data, 'hard2')).ino)
  // The volume root takes the image directory's owner and mode, as Docker does.
  const rootSt = fs.statSync(data)
  expect([rootSt.uid, rootSt.gid, rootSt.mode & 0o7777]).toEqual([101, 102, 0o2775])
})

test('a symlink pointing at a host file is copied as a link, never followed', async () => {
  const data = await newVolume('links')
  await seedVolume(data, [top, bottom], '/data')
  expect(fs.lstatSync(path.join(data, 'abs-link')).isSymbolicLink()).toBe(true)
  expect(fs.readlinkSync(path.join(data, 'abs-link'))).toBe(path.join(outside, 'secret'))
})

test('the container path is resolved through symlinks across layers, inside the view', async () => {
  const data = await newVolume('via-link')
  await seedVolume(data, [top, bottom], '/srv')
  expect(tree(data)).toEqual(['real.txt'])
  const data2 = await newVolume('via-root-link')
  await seedVolume(data2, [top, bottom], '/root-link/../root-link/data/sub')
  expect(tree(data2)).toEqual(['b.txt', 'c.txt'])
})

test('symlinks in the container path cannot lead to host directories', async () => {
  for (const [name, p] of [['rel', '/escape-rel'], ['abs', '/escape-abs'], ['dotdot', '/../../../..' + outside]]) {
    const data = await newVolume(`escape-${name}`)
    await seedVolume(data, [top, bottom], p)
    expect(tree(data)).toEqual([])
    expect(store.find(`escape-${name}`)?.seeded).toBeFalsy()
  }
})

test('seeds once: an emptied volume is not refilled', async () => {
  const data = await newVolume('once')
  await seedVolume(data, [top, bottom], '/data/sub')
  expect(tree(data)).toEqual(['b.txt', 'c.txt'])
  for (const f of fs.readdirSync(data)) fs.rmSync(path.join(data, f))
  await seedVolume(data, [top, bottom], '/data/sub')
  expect(tree(data)).toEqual([])
})

test('a volume that already has content is not seeded', async () => {
  const data = await newVolume('full')
  fs.writeFileSync(path.join(data, 'mine'), 'mine')
  await seedVolume(data, [top, bottom], '/data')
  expect(tree(data)).toEqual(['mine'])
  expect(store.find('full')?.seeded).toBeFalsy()
})

test('nothing at the path: nothing copied, volume can still be seeded later', async () => {
  const data = await newVolume('later')
  await seedVolume(data, [top, bottom], '/does/not/exist')
  await seedVolume(data, [top, bottom], '/data/gone.txt')
  expect(tree(data)).toEqual([])
  expect(store.find('later')?.seeded).toBeFalsy()
  await seedVolume(data, [top, bottom], '/data/old')
  expect(tree(data)).toEqual(['y.txt'])
})

test('seedVolumes skips nocopy volumes and binds', async () => {
  const a = await newVolume('copy')
  const b = await newVolume('nocopy')
  const mounts: ResolvedMount[] = [
    { type: 'volume', name: 'copy', source: a, target: '/data/old', readOnly: false, mode: '', anonymous: false, copy: true },
    { type: 'volume', name: 'nocopy', source: b, target: '/data/old', readOnly: false, mode: 'nocopy', anonymous: false, copy: false },
    { type: 'bind', source: outside, target: '/data', readOnly: false, mode: '' },
  ]
  await seedVolumes(mounts, [top, bottom])
  expect(tree(a)).toEqual(['y.txt'])
  expect(tree(b)).toEqual([])
  expect(tree(outside)).toEqual(['secret'])
})

test('leaves no scratch directories behind', async () => {
  const data = await newVolume('tidy')
  await seedVolume(data, [top, bottom], '/data')
  expect(fs.readdirSync(path.dirname(data)).sort()).toEqual(['_data', 'meta.json'])
})

test('seedings racing in separate processes all succeed, leaving exactly one copy', async () => {
  // seedVolume does its work synchronously, so calls in one process never interleave: race processes,
  // as two containers starting at once from two programs would.
  const data = await newVolume('twice')
  const start = Date.now() + 3000
  const seeder = () =>
    new Promise<void>((resolve, reject) => {
      const child = spawnNode(
        `const { seedVolume } = lib('storage/volume-seed')
        while (Date.now() < ${start}) {} // start together, to really race
        seedVolume(${JSON.stringify(data)}, ${JSON.stringify([top, bottom])}, '/data').catch((e) => { console.error(e); process.exit(1) })`,
        { stdio: ['ignore', 'ignore', 'pipe'] },
      )
      let err = ''
      child.stderr!.on('data', (d) => (err += d))
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`seeder exited ${code}: ${err}`))))
    })
  await Promise.all([seeder(), seeder(), seeder()])
  // The one-seed outcome: the merged view once, files not doubled or half-moved, hard links still one inode.
  expect(tree(data)).toEqual(['a.txt', 'abs-link', 'hard1', 'hard2', 'old', 'old/y.txt', 'rel-link', 'setuid', 'sub', 'sub/b.txt', 'sub/c.txt'])
  expect(fs.readFileSync(path.join(data, 'a.txt'), 'utf8')).toBe('top a')
  expect(fs.statSync(path.join(data, 'hard1')).ino).toBe(fs.statSync(path.join(data, 'hard2')).ino)
  expect(store.find('twice')?.seeded).toBe(true)
  expect(fs.readdirSync(path.dirname(data)).sort()).toEqual(['_data', 'meta.json'])
})
