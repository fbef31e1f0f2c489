// The public Volume class, over a store passed explicitly or bound as the default.
import * as fs from 'node:fs'
import { Volume } from '../../lib/storage/volume'
import { VolumeStore } from '../../lib/storage/volumes'
import { tempRoot } from './helpers'

let root: string
let cleanup: () => void
let store: VolumeStore
const users: Record<string, string[]> = {}

beforeEach(() => {
  ;({ root, cleanup } = tempRoot())
  store = new VolumeStore(root, (n) => users[n] ?? [])
})
afterEach(() => {
  Volume.useDefaultStore(undefined)
  cleanup()
})

test('create, get, list, inspect, remove with an explicit store', async () => {
  const v = await Volume.create('html', { labels: { app: 'nginx' }, store })
  expect(v.name).toBe('html')
  expect(v.mountpoint).toBe(store.paths('html').data)
  expect(fs.statSync(v.mountpoint).isDirectory()).toBe(true)
  expect(v.labels).toEqual({ app: 'nginx' })
  expect((await Volume.get('html', { store })).createdAt).toBe(v.createdAt)
  expect((await Volume.list({ store })).map((x) => x.name)).toEqual(['html'])
  const info = await v.inspect()
  expect(info).toMatchObject({ name: 'html', mountpoint: v.mountpoint, labels: { app: 'nginx' }, usedBy: [] })
  await v.remove()
  expect(await Volume.list({ store })).toEqual([])
})

test('anonymous create, with or without options', async () => {
  const a = await Volume.create({ store })
  const b = await Volume.create({ labels: { x: '1' }, store })
  expect(a.name).toMatch(/^[0-9a-f]{64}$/)
  expect(a.anonymous && b.anonymous).toBe(true)
  expect(b.labels).toEqual({ x: '1' })
})

test('default store, in-use removal, force, prune', async () => {
  Volume.useDefaultStore(() => store)
  const busy = await Volume.create('busy')
  await Volume.create('idle')
  users.busy = ['0123456789abcdef']
  expect((await busy.inspect()).usedBy).toEqual(['0123456789abcdef'])
  await expect(busy.remove()).rejects.toMatchObject({ code: 'EINUSE' })
  expect(await Volume.prune()).toEqual(['idle'])
  await busy.remove({ force: true })
  expect(await Volume.list()).toEqual([])
  await expect(Volume.get('busy')).rejects.toMatchObject({ code: 'ENOVOLUME' })
  delete users.busy
})

test('without a store: a clear EINVALID', async () => {
  await expect(Volume.list()).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringMatching(/no volume store/) })
})
