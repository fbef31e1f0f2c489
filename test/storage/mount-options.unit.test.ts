// resolveMounts against a real store and filesystem; toMountOps and inspect records.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { mountRecords, resolveMounts, toMountOps, volumeNames } from '../../lib/storage/mount-options'
import { VolumeStore } from '../../lib/storage/volumes'
import { MountExtra } from '../../lib/shim/spec'
import { MS_NODEV, MS_NOSUID, MS_RDONLY } from '../../lib/sys/libc'
import { tempRoot } from './helpers'

let root: string
let cleanup: () => void
let store: VolumeStore

beforeEach(() => {
  ;({ root, cleanup } = tempRoot())
  store = new VolumeStore(root)
})
afterEach(() => cleanup())

test('resolves every form; named volumes created, anonymous generated', async () => {
  const host = path.join(root, 'host')
  fs.mkdirSync(host)
  fs.writeFileSync(path.join(root, 'file'), 'f')
  const resolved = await resolveMounts(
    {
      volumes: [`${host}:/ctr/dir`, `${root}/file:/ctr/file:ro`, 'named:/data', 'named2:/data2:ro', '/anon/path'],
      mounts: [{ type: 'tmpfs', target: '/scratch', tmpfsSize: 1 << 20 }],
      tmpfs: { '/run': 'size=64m,mode=1777' },
    },
    store,
  )
  const anon = resolved.find((m) => m.target === '/anon/path')
  expect(anon).toMatchObject({ type: 'volume', anonymous: true })
  const anonName = (anon as { name: string }).name
  expect(anonName).toMatch(/^[0-9a-f]{64}$/)
  expect((await store.list()).map((v) => v.name).sort()).toEqual([anonName, 'named', 'named2'].sort())
  expect(resolved[2]).toEqual({ type: 'volume', name: 'named', source: store.paths('named').data, target: '/data', readOnly: false, mode: '', anonymous: false, copy: true })
  expect(volumeNames(resolved)).toEqual(['named', 'named2', anonName])
  expect(volumeNames(resolved, true)).toEqual([anonName])
})

test('-v creates a missing host directory, like Docker', async () => {
  const missing = path.join(root, 'made/by/v')
  await resolveMounts({ volumes: [`${missing}:/x`] }, store)
  expect(fs.statSync(missing).isDirectory()).toBe(true)
})

test('mounts with a missing bind source is ENOTFOUND, and nothing is created', async () => {
  const missing = path.join(root, 'nope')
  const err = await resolveMounts({ volumes: ['early:/a', '/anon'], mounts: [{ type: 'bind', source: missing, target: '/x' }] }, store).catch((e) => e)
  expect(err.code).toBe('ENOTFOUND')
  expect(err.message).toContain(missing)
  expect(fs.existsSync(missing)).toBe(false)
  expect(await store.list()).toEqual([])
})

test('an invalid option creates nothing', async () => {
  const dir = path.join(root, 'not-made')
  const err = await resolveMounts({ volumes: [`${dir}:/a`, 'vol:/b', 'bad spec:/c'] }, store).catch((e) => e)
  expect(err.code).toBe('EINVALID')
  expect(err.message).toContain('bad spec')
  expect(fs.existsSync(dir)).toBe(false)
  expect(await store.list()).toEqual([])
})

test('an existing named volume is reused', async () => {
  await store.create('keep', { labels: { a: 'b' } })
  fs.writeFileSync(path.join(store.paths('keep').data, 'x'), 'x')
  await resolveMounts({ volumes: ['keep:/k'] }, store)
  expect((await store.get('keep')).labels).toEqual({ a: 'b' })
  expect(fs.readdirSync(store.paths('keep').data)).toEqual(['x'])
})

test('toMountOps: binds with ReadOnly extra, tmpfs with flags and data, parents first', async () => {
  const resolved = await resolveMounts(
    { volumes: [`${root}:/a/b/c:ro`, 'v:/a'], mounts: [{ type: 'tmpfs', target: '/a/b', tmpfsSize: '1m', tmpfsMode: 0o700, readOnly: true }], tmpfs: { '/run': 'size=64m,mode=1777' } },
    store,
  )
  expect(toMountOps(resolved)).toEqual([
    { kind: 'mount', type: 'bind', source: store.paths('v').data, target: '/a', flags: 0, extra: 0 },
    { kind: 'mount', type: 'tmpfs', source: 'tmpfs', target: '/run', flags: MS_NOSUID | MS_NODEV, data: 'size=64m,mode=1777' },
    { kind: 'mount', type: 'tmpfs', source: 'tmpfs', target: '/a/b', flags: MS_NOSUID | MS_NODEV | MS_RDONLY, data: 'size=1m,mode=700' },
    { kind: 'mount', type: 'bind', source: root, target: '/a/b/c', flags: 0, extra: MountExtra.ReadOnly },
  ])
})

test('mountRecords look like Docker inspect Mounts', async () => {
  const resolved = await resolveMounts({ volumes: [`${root}:/h:ro`, 'web:/usr/share/nginx/html', '/anon'], tmpfs: ['/run'] }, store)
  const records = mountRecords(resolved)
  expect(records[0]).toEqual({ type: 'bind', source: root, destination: '/h', mode: 'ro', rw: false })
  expect(records[1]).toEqual({ type: 'volume', name: 'web', source: store.paths('web').data, destination: '/usr/share/nginx/html', mode: '', rw: true, anonymous: false })
  expect(records[2]).toMatchObject({ type: 'volume', anonymous: true, destination: '/anon' })
  expect(records[3]).toEqual({ type: 'tmpfs', source: '', destination: '/run', mode: '', rw: true })
  expect(JSON.parse(JSON.stringify(resolved))).toEqual(resolved) // storable in the container record
})
