/**
 * Image.pruneBuildCache: `until` spares what was used more recently; a
 * prune forgets cached steps, removes the layers only they kept (a failed
 * build's finished steps) but never an image's, and removes RUN cache
 * mounts; the next build makes its steps again.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Image, type Runtime } from '../../lib'
import { runOutput, useRuntime } from '../helpers'

jest.setTimeout(120_000)

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { busybox: true, hostImage: false })

test('until spares recent entries; a prune removes a failed build\'s layers and cache mounts, keeps images whole, and the next build misses', async () => {
  const ctx = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-build-prune-'))
  try {
    const good = 'FROM bb\nRUN --mount=type=cache,target=/c echo x >> /c/x && echo good > /good\n'
    const img = await Image.build(ctx, { runtime, network: 'none', dockerfile: { content: good } })
    await expect(Image.build(ctx, { runtime, network: 'none', dockerfile: { content: 'FROM bb\nRUN echo half > /half\nRUN exit 3\n' } })).rejects.toMatchObject({ code: 'EBUILD' })
    const entriesDir = path.join(runtime.root, 'build-cache')
    const layersDir = path.join(runtime.root, 'layers')
    const layersBefore = fs.readdirSync(layersDir).length
    expect(await Image.pruneBuildCache({ runtime, until: '24h' })).toEqual({ entriesDeleted: 0, layersDeleted: 0, cacheMountsDeleted: 0 })
    // until as Docker's filter takes it (the same reader as logs' and the other prunes'): a Date, RFC 3339, unix seconds.
    const dayAgo = new Date(Date.now() - 24 * 3600_000)
    for (const until of [dayAgo, dayAgo.toISOString(), Math.floor(dayAgo.getTime() / 1000)]) expect(await Image.pruneBuildCache({ runtime, until })).toEqual({ entriesDeleted: 0, layersDeleted: 0, cacheMountsDeleted: 0 })
    const old = new Date(Date.now() - 48 * 3600_000)
    for (const f of fs.readdirSync(entriesDir)) fs.utimesSync(path.join(entriesDir, f), old, old)
    for (const d of fs.readdirSync(path.join(runtime.root, 'build-cache-mounts'))) fs.utimesSync(path.join(runtime.root, 'build-cache-mounts', d), old, old)
    expect(await Image.pruneBuildCache({ runtime, until: '24h' })).toEqual({ entriesDeleted: 2, layersDeleted: 1, cacheMountsDeleted: 1 })
    expect(fs.readdirSync(layersDir).length).toBe(layersBefore - 1)
    expect(await runOutput(runtime, img.id, ['cat', '/good'])).toBe('good\n')
    const cached: string[] = []
    await Image.build(ctx, { runtime, network: 'none', dockerfile: { content: good }, onLog: (l, step) => l === 'CACHED' && cached.push(step.instruction) })
    expect(cached).toEqual([])
    expect(await Image.pruneBuildCache({ runtime })).toMatchObject({ entriesDeleted: 1, cacheMountsDeleted: 1 })
    await expect(Image.pruneBuildCache({ runtime, until: 'soon' })).rejects.toMatchObject({ code: 'EINVALID' })
  } finally {
    fs.rmSync(ctx, { recursive: true, force: true })
  }
})

test("a prune removes the blob of each layer it removes (a failed build's step): no orphan blob is left in the store", async () => {
  const ctx = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-build-prune-'))
  try {
    await expect(
      Image.build(ctx, { runtime, network: 'none', dockerfile: { content: `FROM bb\nRUN echo half-${process.pid}-${Date.now()} > /half\nRUN exit 3\n` } }),
    ).rejects.toMatchObject({ code: 'EBUILD' })
    const blobsDir = path.join(runtime.root, 'blobs', 'sha256')
    const images = new Set(runtime.images.list().flatMap((r) => r.layers))
    const layers = fs.readdirSync(path.join(runtime.root, 'layers')).filter((n) => n.startsWith('sha256-')).map((n) => `sha256:${n.slice(7)}`)
    const half = layers.find((d) => !images.has(d))
    expect(half).toBeDefined()
    expect(fs.existsSync(path.join(blobsDir, half!.slice(7)))).toBe(true) // the step's plain tar: its digest is the diffID
    expect(await Image.pruneBuildCache({ runtime })).toMatchObject({ layersDeleted: 1 })
    expect(runtime.images.hasLayer(half!)).toBe(false)
    expect(fs.existsSync(path.join(blobsDir, half!.slice(7)))).toBe(false)
  } finally {
    fs.rmSync(ctx, { recursive: true, force: true })
  }
})
