// Image.remove: refused while a container uses the image, and with { force } an untag that keeps the layers.
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Image, run, type Runtime } from '../../lib'
import { busyboxRootfs, destroyRuntime, tempRuntime, text } from '../helpers'

let runtime: Runtime

beforeAll(() => {
  runtime = tempRuntime()
})
afterAll(() => destroyRuntime(runtime))

async function importBusybox(ref: string): Promise<Image> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rmi-'))
  try {
    fs.mkdirSync(path.join(dir, 'data'))
    fs.writeFileSync(path.join(dir, 'data/marker'), `${ref}\n`) // its own content: a layer no other image shares
    return await Image.import(busyboxRootfs(dir), { runtime, ref })
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

test('remove({ force }) of an image in use untags it; its container keeps the layers and runs again', async () => {
  const img = await importBusybox('inuse:1')
  const layer = img.layerDirs[0]
  const c = await run('inuse:1', ['cat', '/data/marker'], { runtime })
  await c.wait()
  await expect(img.remove()).rejects.toMatchObject({ code: 'EINUSE' })
  expect(img.refs).toEqual(['inuse:1'])

  await img.remove({ force: true })
  await expect(Image.get('inuse:1', { runtime })).rejects.toMatchObject({ code: 'ENOIMAGE' })
  expect(img.refs).toEqual([])
  // Untagged, not deleted: still there by id, layers on disk, and the container starts again from them.
  expect((await Image.get(img.id, { runtime })).id).toBe(img.id)
  expect(fs.existsSync(path.join(layer, 'data/marker'))).toBe(true)
  await c.start()
  await c.wait()
  expect(await text(c.logs())).toBe('inuse:1\ninuse:1\n')

  // Once its container is gone, a plain remove deletes the image and its layer.
  await c.remove()
  await img.remove()
  await expect(Image.get(img.id, { runtime })).rejects.toMatchObject({ code: 'ENOIMAGE' })
  expect(fs.existsSync(layer)).toBe(false)
})

test('remove({ force }) of an image nobody uses deletes it like a plain remove', async () => {
  const img = await importBusybox('unused:1')
  const layer = img.layerDirs[0]
  await img.remove({ force: true })
  await expect(Image.get(img.id, { runtime })).rejects.toMatchObject({ code: 'ENOIMAGE' })
  expect(fs.existsSync(layer)).toBe(false)
})

test("remove deletes the blobs only the image used: its config and its layer's tar leave the blob store", async () => {
  const blobs = () => fs.readdirSync(path.join(runtime.root, 'blobs', 'sha256')).sort()
  const before = blobs()
  const img = await importBusybox('blobs:1')
  const layerTar = path.join(runtime.root, 'blobs', 'sha256', img.details.layers[0]!.slice(7))
  expect(fs.existsSync(layerTar)).toBe(true)
  await img.remove()
  expect(blobs()).toEqual(before)
})
