/**
 * The start path does no work twice (issue 20): what a create and a start read and touch in the runtime
 * root, observed with strace.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Container, Image, type Runtime } from '../../lib'
import { useRuntime } from '../helpers'
import { syscallsOnPaths } from '../tools/strace'

jest.setTimeout(120_000)

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { busybox: true })

/** The image store's files that a create or start may read: the directory of records, bb's record and its ref. */
async function imageFiles(): Promise<{ images: string; record: string; ref: string }> {
  const id = (await Image.get('bb', { runtime })).id
  const images = path.join(runtime.root, 'images')
  return { images, record: path.join(images, `${id.replace(':', '-')}.json`), ref: path.join(runtime.root, 'refs', encodeURIComponent('bb:latest')) }
}

/** How many times each of `files` is opened (by path) while `fn` runs. */
async function opensDuring<K extends string>(files: Record<K, string>, fn: () => Promise<void>): Promise<Record<K, number>> {
  const calls = await syscallsOnPaths(process.pid, Object.values(files), fn)
  // openat2 too: readJson opens a record with openat2 (a missing one makes no error object).
  const opens = calls.filter((l) => /\bopenat2?\(/.test(l))
  const entries = Object.entries(files) as [K, string][]
  return Object.fromEntries(entries.map(([k, file]) => [k, opens.filter((l) => l.includes(`"${file}"`)).length])) as Record<K, number>
}

test('a start without a health check never touches health.json', async () => {
  await using c = await Container.create('bb', ['true'], { runtime, network: 'none' })
  const health = path.join(runtime.root, 'containers', c.id, 'health.json')
  const calls = await syscallsOnPaths(process.pid, [health], async () => {
    await c.start()
    await c.wait()
  })
  expect(calls).toEqual([])
})

test("a create reads its image's ref and record once each and lists no directory of images", async () => {
  let c: Container | undefined
  const opened = await opensDuring(await imageFiles(), async () => {
    c = await Container.create('bb', ['true'], { runtime, network: 'none' })
  })
  await c!.remove()
  expect(opened).toEqual({ images: 0, record: 1, ref: 1 })
})

test("a start reads its image's record once, by its id, and lists no directory of images", async () => {
  await using c = await Container.create('bb', ['true'], { runtime, network: 'none' })
  const opened = await opensDuring(await imageFiles(), async () => {
    await c.start()
    await c.wait()
  })
  expect(opened).toEqual({ images: 0, record: 1, ref: 0 })
})

test("a start and a view of the stopped container's files create no file in its directory beyond its state, log and exit", async () => {
  await using c = await Container.create('bb', ['true'], { runtime, network: 'none' })
  const dir = path.join(runtime.root, 'containers', c.id)
  const before = fs.readdirSync(dir)
  await c.start()
  await c.wait()
  // A view of the stopped container's layer, under the layer lock too.
  const copy = fs.mkdtempSync(path.join(runtime.root, 'copy-'))
  await c.copyFrom('/bin/busybox', path.join(copy, 'busybox'))
  fs.rmSync(copy, { recursive: true, force: true })
  expect(fs.readdirSync(dir).filter((f) => !before.includes(f)).sort()).toEqual(['exit', `${c.id}-json.log`, 'state.json'].sort())
})
