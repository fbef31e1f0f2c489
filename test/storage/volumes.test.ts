// VolumeStore against the real filesystem: CRUD, in-use rules, prune, anonymous names, concurrent creation.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { VolumeStore } from '../../lib/storage/volumes'
import { spawnNode } from '../tools/node-child'
import { tempRoot, uniqueName } from './helpers'

let root: string
let cleanup: () => void
let users: Record<string, string[]>
let store: VolumeStore

beforeEach(() => {
  ;({ root, cleanup } = tempRoot())
  users = {}
  store = new VolumeStore(root, (name) => users[name] ?? [])
})
afterEach(() => cleanup())

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    return (err as { code: string }).code
  }
  return 'no error'
}

test('create lays out _data and meta.json', async () => {
  const meta = await store.create('html', { labels: { team: 'web' } })
  expect(meta).toMatchObject({ name: 'html', labels: { team: 'web' }, anonymous: false })
  const dir = path.join(root, 'volumes', 'html')
  expect(fs.statSync(path.join(dir, '_data')).isDirectory()).toBe(true)
  expect(JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8'))).toEqual(meta)
  expect(new Date(meta.createdAt).getTime()).toBeGreaterThan(Date.now() - 60_000)
})

test('create of an existing name returns the existing volume', async () => {
  const first = await store.create('same', { labels: { a: '1' } })
  fs.writeFileSync(path.join(store.paths('same').data, 'keep'), 'x')
  const again = await store.create('same')
  expect(again).toEqual(first)
  expect(fs.readFileSync(path.join(store.paths('same').data, 'keep'), 'utf8')).toBe('x')
})

test('anonymous volumes get a 64-hex name', async () => {
  const a = await store.create()
  const b = await store.create(undefined, { labels: { x: 'y' } })
  expect(a.name).toMatch(/^[0-9a-f]{64}$/)
  expect(a.name).not.toBe(b.name)
  expect(a.anonymous).toBe(true)
  expect(b.labels).toEqual({ x: 'y' })
})

test('invalid names and labels are EINVALID', async () => {
  for (const bad of ['', '.hidden', '../x', 'a/b', 'bad$', '-x', 'x'.repeat(256)]) expect(await code(store.create(bad))).toBe('EINVALID')
  expect(await code(store.create('ok', { labels: { a: 1 as any } }))).toBe('EINVALID')
  expect(await code(store.get('../etc'))).toBe('EINVALID')
})

test('get, list, inspect', async () => {
  await store.create('b-vol')
  await store.create('a-vol')
  users['a-vol'] = ['c'.repeat(64)]
  expect((await store.get('a-vol')).name).toBe('a-vol')
  expect(await code(store.get('missing'))).toBe('ENOVOLUME')
  expect((await store.list()).map((v) => v.name)).toEqual(['a-vol', 'b-vol'])
  const info = await store.inspect('a-vol')
  expect(info).toMatchObject({ name: 'a-vol', mountpoint: path.join(root, 'volumes', 'a-vol', '_data'), labels: {}, usedBy: ['c'.repeat(64)], driver: 'local' })
  expect(typeof info.createdAt).toBe('string')
})

test('remove refuses a volume in use (EINUSE) unless forced', async () => {
  await store.create('busy')
  users.busy = ['abcdef0123456789']
  const err = await store.remove('busy').catch((e) => e)
  expect(err.code).toBe('EINUSE')
  expect(err.message).toMatch(/busy.*abcdef012345.*force/)
  expect(store.find('busy')).toBeDefined()
  await store.remove('busy', { force: true })
  expect(store.find('busy')).toBeUndefined()
  expect(fs.existsSync(path.join(root, 'volumes', 'busy'))).toBe(false)
})

test('remove of a missing volume: ENOVOLUME, or nothing when forced', async () => {
  expect(await code(store.remove('nope'))).toBe('ENOVOLUME')
  await store.remove('nope', { force: true })
})

test('remove deletes data without following symlinks out of the volume', async () => {
  const outside = fs.mkdtempSync('/tmp/mc-vol-outside-')
  try {
    fs.writeFileSync(path.join(outside, 'precious'), 'keep me')
    await store.create('evil')
    const data = store.paths('evil').data
    fs.symlinkSync(outside, path.join(data, 'link-dir'))
    fs.symlinkSync(path.join(outside, 'precious'), path.join(data, 'link-file'))
    fs.mkdirSync(path.join(data, 'sub/deeper'), { recursive: true })
    fs.symlinkSync('/', path.join(data, 'sub/deeper/root'))
    await store.remove('evil')
    expect(fs.readFileSync(path.join(outside, 'precious'), 'utf8')).toBe('keep me')
    expect(fs.readdirSync(path.join(root, 'volumes'))).toEqual([])
  } finally {
    fs.rmSync(outside, { recursive: true, force: true })
  }
})

test('prune removes only unused volumes and returns their names', async () => {
  await store.create('used')
  await store.create('unused')
  const anon = await store.create()
  users.used = ['x']
  expect((await store.prune()).sort()).toEqual([anon.name, 'unused'].sort())
  expect((await store.list()).map((v) => v.name)).toEqual(['used'])
})

test('prune({ anonymousOnly }) keeps named volumes', async () => {
  await store.create('named')
  const anon = await store.create()
  expect(await store.prune({ anonymousOnly: true })).toEqual([anon.name])
  expect((await store.list()).map((v) => v.name)).toEqual(['named'])
})

test('usersOf may be async', async () => {
  const s = new VolumeStore(root, async (name) => (name === 'x' ? ['id1'] : []))
  await s.create('x')
  expect(await code(s.remove('x'))).toBe('EINUSE')
  expect(await s.prune()).toEqual([])
})

test('losing the creation race adopts the winner', async () => {
  const name = uniqueName()
  const winner = await store.create(name, { labels: { who: 'winner' } })
  // Simulate the loser: it looked before the winner renamed its volume into place.
  const loser = (store as any).install({ name, createdAt: 'later', labels: { who: 'loser' }, anonymous: false })
  expect(loser).toEqual(winner)
  expect(fs.readdirSync(store.dir)).toEqual([name])
})

// Real processes racing on one name.
test('several processes creating one volume all get the same volume', async () => {
  const name = uniqueName('race')
  const start = Date.now() + 4000
  const script = `
    const { VolumeStore } = lib('storage/volumes')
    const s = new VolumeStore(${JSON.stringify(root)})
    while (Date.now() < ${start}) {} // start together, to really race
    Promise.all(Array.from({ length: 30 }, (_, i) => s.create(${JSON.stringify(name)} + '-' + i, { labels: { pid: String(process.pid) } })))
      .then((m) => process.stdout.write(JSON.stringify(m)))
  `
  const run = () =>
    new Promise<string>((resolve, reject) => {
      const p = spawnNode(script)
      let out = ''
      let err = ''
      p.stdout!.on('data', (d) => (out += d))
      p.stderr!.on('data', (d) => (err += d))
      p.on('close', (c) => (c === 0 ? resolve(out) : reject(new Error(err))))
    })
  const results = (await Promise.all([run(), run(), run(), run()])).map((o) => JSON.parse(o))
  for (const r of results) expect(r).toEqual(results[0])
  expect(fs.readdirSync(store.dir)).toHaveLength(30) // no scratch directories left
  for (const m of results[0]) expect(await store.get(m.name)).toEqual(m)
})
