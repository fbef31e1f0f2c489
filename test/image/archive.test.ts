/**
 * Image.load and Image.save against independent tools: OCI layouts built by
 * umoci (several layers, a deleted file, a replaced directory), skopeo's
 * docker-archive output, and our archives read back by skopeo and umoci.
 */
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Image, run, type LoadProgress, type Runtime } from '../../lib'
import { destroyRuntime, tempRuntime, text } from '../helpers'
import { buildOciLayout, sh } from './oci-fixture'

let runtime: Runtime
let work: string
/** The umoci-built OCI layout (tag "base") and the id of its image. */
let layout: string


beforeAll(() => {
  runtime = tempRuntime()
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-archive-'))
  layout = buildOciLayout(work)
})
afterAll(async () => {
  await destroyRuntime(runtime)
  fs.rmSync(work, { recursive: true, force: true })
})

async function output(image: string, rt = runtime): Promise<string> {
  const c = await run(image, undefined, { runtime: rt })
  expect(await c.wait()).toEqual({ exitCode: 0 })
  const out = await text(c.logs())
  await c.remove()
  return out
}
const expected = 'hello\n/opt\nc\ngone\n'

/** Names of everything the store holds (blobs, layers, images, refs). */
function storeContents(rt: Runtime): string[] {
  // layers/l holds the layers' short names for overlay mounts: listed by its entries.
  return ['blobs/sha256', 'layers', 'layers/l', 'images', 'refs'].flatMap((d) => fs.readdirSync(path.join(rt.root, d)).filter((n) => n !== 'tmp' && n !== 'by-blob' && n !== 'l').map((n) => `${d}/${n}`)).sort()
}

test('an umoci OCI layout loads from a directory, a tar and a zstd tar as one image, and runs as its config says', async () => {
  const [img] = await Image.load(layout, { runtime })
  expect(img.details.layers).toHaveLength(2)
  expect(await output(img.id)).toBe(expected)
  sh('tar', ['-C', layout, '-cf', path.join(work, 'oci.tar'), '.'])
  sh('zstd', ['-q', '-f', path.join(work, 'oci.tar'), '-o', path.join(work, 'oci.tar.zst')])
  const fromTar = await Image.load(path.join(work, 'oci.tar'), { runtime })
  const fromZstd = await Image.load(fs.createReadStream(path.join(work, 'oci.tar.zst')), { runtime })
  expect([fromTar[0].id, fromZstd[0].id]).toEqual([img.id, img.id])
})

test("onProgress: each file of a tar and each layer of a directory layout is told as 'loading' from 0, then 'loaded' with all its bytes", async () => {
  const tar = path.join(work, 'progress.tar')
  sh('tar', ['-C', layout, '-cf', tar, '.'])
  const blobs = fs.readdirSync(path.join(layout, 'blobs/sha256')).map((hex) => `blobs/sha256/${hex}`)
  const fresh = tempRuntime() // nothing stored yet: every layer of the directory is read
  try {
    for (const [source, rt] of [[tar, runtime], [layout, fresh]] as const) {
      const events: LoadProgress[] = []
      await Image.load(source, { runtime: rt, onProgress: (e) => events.push(e) })
      const layers = (await Image.list({ runtime: rt }))[0]?.details.layers.length ?? 0
      const told = [...new Set(events.map((e) => e.file))]
      if (source === tar) expect(told).toEqual(expect.arrayContaining(blobs))
      else expect(told).toHaveLength(layers) // a directory's manifests and configs are read in place, not stored
      for (const file of told) {
        const mine = events.filter((e) => e.file === file)
        const size = source === tar ? fs.statSync(path.join(layout, file)).size : (mine[0]?.total ?? -1)
        expect(mine[0]).toEqual({ file, bytes: 0, total: size, status: 'loading' })
        expect(mine.at(-1)).toEqual({ file, bytes: size, total: size, status: 'loaded' })
      }
    }
  } finally {
    await destroyRuntime(fresh)
  }
})

test("skopeo's docker-archive output loads with its tag and runs", async () => {
  const archive = path.join(work, 'skopeo-da.tar')
  sh('skopeo', ['copy', '-q', `oci:${layout}:base`, `docker-archive:${archive}:sk/app:1`])
  const [img] = await Image.load(archive, { runtime })
  expect(img.refs).toEqual(['sk/app:1'])
  expect(await output('sk/app:1')).toBe(expected)
})

test('Image.save in both formats is read by skopeo and umoci, and loads back with the same id', async () => {
  const [img] = await Image.load(layout, { runtime })
  await img.tag('saved/app:2')
  const docker = path.join(work, 'saved-docker.tar')
  const oci = path.join(work, 'saved-oci.tar')
  await Image.save('saved/app:2', docker, { runtime })
  await Image.save(['saved/app:2'], oci, { runtime, format: 'oci' })
  const inspected = JSON.parse(sh('skopeo', ['inspect', `docker-archive:${docker}`]))
  expect(inspected.Layers).toHaveLength(2)
  expect(inspected.Env).toContain('GREETING=hello')
  expect(JSON.parse(sh('skopeo', ['inspect', '--config', `oci-archive:${oci}`])).config.WorkingDir).toBe('/opt')
  sh('skopeo', ['copy', '-q', `docker-archive:${docker}`, `oci:${path.join(work, 'back')}:x`])
  const unpacked = path.join(work, 'umoci-oci')
  fs.mkdirSync(unpacked)
  sh('tar', ['-C', unpacked, '-xf', oci])
  sh('umoci', ['unpack', '--image', `${unpacked}:2`, path.join(work, 'bundle2')])
  const rootfs = path.join(work, 'bundle2/rootfs')
  expect(fs.readdirSync(path.join(rootfs, 'opt/dir'))).toEqual(['c'])
  expect(fs.existsSync(path.join(rootfs, 'etc/gone'))).toBe(false)

  const other = tempRuntime()
  try {
    for (const file of [docker, oci]) {
      const [again] = await Image.load(file, { runtime: other })
      expect(again.id).toBe(img.id)
      expect(again.refs).toEqual(['saved/app:2'])
      expect(await output('saved/app:2', other)).toBe(expected)
      await again.remove()
    }
  } finally {
    await destroyRuntime(other)
  }
})

test('commit, save and load give the same image id', async () => {
  const [img] = await Image.load(layout, { runtime })
  const c = await run(img.id, ['sh', '-c', 'echo committed > /opt/new'], { runtime })
  await c.wait()
  const committed = await c.commit({ ref: 'committed:1' })
  await c.remove()
  const file = path.join(work, 'committed.tar')
  await Image.save('committed:1', file, { runtime })
  const other = tempRuntime()
  try {
    const [loaded] = await Image.load(file, { runtime: other })
    expect(loaded.id).toBe(committed.id)
  } finally {
    await destroyRuntime(other)
  }
})

test('a tampered blob, a truncated archive, a non-tar and an unknown media type are coded errors that store nothing', async () => {
  const rt = tempRuntime()
  try {
    const before = storeContents(rt)
    // Tampered: one byte of the image's first layer blob changed.
    const tampered = path.join(work, 'tampered')
    fs.cpSync(layout, tampered, { recursive: true })
    const blobFile = (d: string) => path.join(tampered, 'blobs/sha256', d.slice(7))
    const manifestDigest = JSON.parse(fs.readFileSync(path.join(tampered, 'index.json'), 'utf8')).manifests[0].digest
    const layerFile = blobFile(JSON.parse(fs.readFileSync(blobFile(manifestDigest), 'utf8')).layers[0].digest)
    const bytes = fs.readFileSync(layerFile)
    bytes[bytes.length >> 1] ^= 0xff
    fs.writeFileSync(layerFile, bytes)
    await expect(Image.load(tampered, { runtime: rt })).rejects.toMatchObject({ code: 'EDIGEST' })
    sh('tar', ['-C', tampered, '-cf', path.join(work, 'tampered.tar'), '.'])
    await expect(Image.load(path.join(work, 'tampered.tar'), { runtime: rt })).rejects.toMatchObject({ code: 'EDIGEST' })

    const whole = fs.readFileSync(path.join(work, 'oci.tar'))
    fs.writeFileSync(path.join(work, 'truncated.tar'), whole.subarray(0, whole.length >> 1))
    await expect(Image.load(path.join(work, 'truncated.tar'), { runtime: rt })).rejects.toMatchObject({ code: 'EINVALID' })
    fs.writeFileSync(path.join(work, 'random.bin'), crypto.randomBytes(100_000))
    await expect(Image.load(path.join(work, 'random.bin'), { runtime: rt })).rejects.toMatchObject({ code: 'EINVALID' })

    // Unknown layer media type: a manifest rewritten (and re-hashed, so only the type is wrong).
    const odd = path.join(work, 'odd')
    fs.cpSync(layout, odd, { recursive: true })
    const index = JSON.parse(fs.readFileSync(path.join(odd, 'index.json'), 'utf8'))
    const mpath = (d: string) => path.join(odd, 'blobs/sha256', d.slice(7))
    const manifest = JSON.parse(fs.readFileSync(mpath(index.manifests[0].digest), 'utf8'))
    manifest.layers[0].mediaType = 'application/vnd.example.strange'
    const mbytes = Buffer.from(JSON.stringify(manifest))
    const mdigest = `sha256:${crypto.createHash('sha256').update(mbytes).digest('hex')}`
    fs.writeFileSync(mpath(mdigest), mbytes)
    index.manifests[0] = { ...index.manifests[0], digest: mdigest, size: mbytes.length }
    fs.writeFileSync(path.join(odd, 'index.json'), JSON.stringify(index))
    await expect(Image.load(odd, { runtime: rt })).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringContaining('application/vnd.example.strange') })

    expect(storeContents(rt)).toEqual(before)
    expect(fs.readdirSync(path.join(rt.root, 'blobs/tmp'))).toEqual([])
    expect(fs.readdirSync(path.join(rt.root, 'layers/tmp'))).toEqual([])
  } finally {
    await destroyRuntime(rt)
  }
})

test('tag, untag, inspect, history and prune', async () => {
  const rt = tempRuntime()
  try {
    const [img] = await Image.load(layout, { runtime: rt })
    await img.tag('book/app:1')
    await img.tag('127.0.0.1:5000/team/app:2')
    const info = await img.inspect()
    expect(info).toMatchObject({ id: img.id, repoTags: expect.arrayContaining(['book/app:1', '127.0.0.1:5000/team/app:2']), repoDigests: [], architecture: 'amd64', os: 'linux' })
    expect(info.config).toMatchObject({ env: ['GREETING=hello'], workdir: '/opt' })
    expect(info.rootFS.diffIds).toEqual(img.details.layers)
    expect(info.size).toBeGreaterThan(fs.statSync(path.join(img.layerDirs[1], 'bin/busybox')).size)
    const history = await img.history()
    expect(history[0]).toMatchObject({ id: img.id, tags: expect.arrayContaining(['book/app:1']) })
    expect(history.filter((h) => h.size > 0)).toHaveLength(2)
    expect(history.slice(1).every((h) => h.id === '<missing>')).toBe(true)

    expect((await Image.prune({ runtime: rt })).imagesDeleted).toEqual([])
    await Image.untag('book/app:1', { runtime: rt })
    await expect(Image.untag('book/app:1', { runtime: rt })).rejects.toMatchObject({ code: 'ENOIMAGE' })
    await Image.untag('127.0.0.1:5000/team/app:2', { runtime: rt })
    expect(await Image.get(img.id, { runtime: rt })).toBeDefined()
    const pruned = await Image.prune({ runtime: rt })
    expect(pruned.imagesDeleted).toEqual([img.id])
    expect(pruned.spaceReclaimed).toBe(info.size)
    expect(storeContents(rt)).toEqual([])
  } finally {
    await destroyRuntime(rt)
  }
})
