/**
 * Image.pull, img.push and run's pull policy against a real
 * docker-registry on loopback, with images built by umoci and put in (and
 * read back) by skopeo.
 */
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Image, run, type PullProgress, type Runtime } from '../../lib'
import { busyboxRootfs, destroyRuntime, tempRuntime, text } from '../helpers'
import { startRegistry, type TestRegistry } from '../tools/registry'
import { buildOciImage, skopeoInspect, skopeoPush, writeFile, type OciLayout } from '../tools/oci-image'

jest.setTimeout(180_000)

let reg: TestRegistry
let runtime: Runtime
let app: OciLayout
let appDigest: string

/** Runs `cmd` in `image` and returns its output. */
async function output(rt: Runtime, image: string, cmd: string[] | undefined, opts: Parameters<typeof run>[2] = {}): Promise<string> {
  const c = await run(image, cmd, { runtime: rt, network: 'none', ...opts })
  await c.wait()
  const out = await text(c.logs())
  await c.remove({ force: true })
  return out
}

/** Files of the blob store (to see that a failed pull stored nothing). */
function blobFiles(rt: Runtime): string[] {
  return fs.readdirSync(path.join(rt.root, 'blobs', 'sha256')).sort()
}

beforeAll(async () => {
  reg = await startRegistry()
  runtime = tempRuntime()
  app = buildOciImage({
    layers: [
      (r) => void busyboxRootfs(r),
      (r) => {
        writeFile(r, 'srv/data.bin', crypto.randomBytes(2 << 20))
        writeFile(r, 'srv/gone.txt', 'to be deleted\n')
      },
      (r) => {
        fs.rmSync(path.join(r, 'srv/gone.txt'))
        writeFile(r, 'srv/hello.txt', 'hello from the registry\n')
      },
    ],
    cmd: ['sh', '-c', 'cat /srv/hello.txt; ls /srv; echo $GREETING'],
    env: ['GREETING=hi', 'PATH=/bin'],
  })
  appDigest = await skopeoPush(app, `${reg.host}/team/app:1`)
})

afterAll(async () => {
  await destroyRuntime(runtime)
  app?.remove()
  await reg?.stop()
})

test('pull by tag: layers, config and repoDigests; the image runs with its config', async () => {
  const events: PullProgress[] = []
  const img = await Image.pull(`${reg.host}/team/app:1`, { runtime, onProgress: (e) => events.push(e) })
  expect(img.refs).toEqual([`${reg.host}/team/app:1`])
  expect(img.details.repoDigests).toEqual([`${reg.host}/team/app@${appDigest}`])
  expect(img.details.layers).toHaveLength(3)
  expect(img.config.env).toContain('GREETING=hi')
  for (const layer of [0, 1, 2]) expect(events.filter((e) => e.layer === layer).map((e) => e.status)).toEqual(expect.arrayContaining(['waiting', 'extracting', 'done']))
  expect(events.some((e) => e.status === 'downloading' && e.bytes < e.total)).toBe(true)
  expect(await output(runtime, `${reg.host}/team/app:1`, undefined)).toBe('hello from the registry\ndata.bin\nhello.txt\nhi\n')
})

test('a second pull with every layer present is a manifest fetch only', async () => {
  const events: PullProgress[] = []
  const started = process.hrtime.bigint()
  const img = await Image.pull(`${reg.host}/team/app:1`, { runtime, onProgress: (e) => events.push(e) })
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  expect(events.map((e) => e.status)).toEqual(['cached', 'cached', 'cached'])
  expect(img.details.repoDigests).toEqual([`${reg.host}/team/app@${appDigest}`])
  console.log(`second pull (manifest only): ${ms.toFixed(1)} ms`)
  expect(ms).toBeLessThan(1000)
})

test('pull by digest into a fresh runtime: no tag, the same image id', async () => {
  const other = tempRuntime()
  try {
    const first = await Image.get(`${reg.host}/team/app:1`, { runtime })
    const img = await Image.pull(`${reg.host}/team/app@${appDigest}`, { runtime: other })
    expect(img.id).toBe(first.id)
    expect(img.refs).toEqual([])
    expect((await Image.get(`${reg.host}/team/app@${appDigest}`, { runtime: other })).id).toBe(img.id)
  } finally {
    await destroyRuntime(other)
  }
})

test('manifest not found is ENOIMAGE; a digest that does not match is EDIGEST; nothing is stored', async () => {
  const other = tempRuntime()
  try {
    await expect(Image.pull(`${reg.host}/team/nope:1`, { runtime: other })).rejects.toMatchObject({ code: 'ENOIMAGE' })
    await expect(Image.pull(`${reg.host}/team/app:nope`, { runtime: other })).rejects.toMatchObject({ code: 'ENOIMAGE' })
    await expect(Image.pull(`${reg.host}/team/app@sha256:${'0'.repeat(64)}`, { runtime: other })).rejects.toMatchObject({ code: 'ENOIMAGE' })
    expect(await Image.list({ runtime: other })).toEqual([])
    expect(blobFiles(other)).toEqual([])
  } finally {
    await destroyRuntime(other)
  }
})

test('a tampered blob in the registry is EDIGEST and stores nothing of it', async () => {
  const tampered = buildOciImage({ layers: [(r) => writeFile(r, 'x.txt', 'original\n')], cmd: ['true'] })
  const other = tempRuntime()
  try {
    await skopeoPush(tampered, `${reg.host}/team/tampered:1`)
    const layer = (await skopeoInspect(`${reg.host}/team/tampered:1`)).Layers[0]
    const hex = layer.slice('sha256:'.length)
    const data = path.join(reg.dir, 'data/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data')
    const bytes = fs.readFileSync(data)
    bytes[bytes.length - 5] ^= 0xff
    fs.writeFileSync(data, bytes)
    await expect(Image.pull(`${reg.host}/team/tampered:1`, { runtime: other })).rejects.toMatchObject({ code: 'EDIGEST' })
    expect(await Image.list({ runtime: other })).toEqual([])
    expect(blobFiles(other)).not.toContain(hex)
  } finally {
    tampered.remove()
    await destroyRuntime(other)
  }
})

test('an interrupted pull leaves no image and no partial blob; the next pull completes', async () => {
  const other = tempRuntime()
  try {
    const ac = new AbortController()
    const pulling = Image.pull(`${reg.host}/team/app:1`, {
      runtime: other,
      concurrency: 1,
      signal: ac.signal,
      onProgress: (e) => e.status === 'downloading' && e.bytes < e.total && ac.abort(new Error('stop the pull')),
    })
    await expect(pulling).rejects.toMatchObject({ code: 'EABORTED', cause: new Error('stop the pull') })
    expect(await Image.list({ runtime: other })).toEqual([])
    const tmp = path.join(other.root, 'blobs', 'tmp')
    expect(fs.existsSync(tmp) ? fs.readdirSync(tmp) : []).toEqual([])
    const img = await Image.pull(`${reg.host}/team/app:1`, { runtime: other })
    expect(await output(other, img.id, ['cat', '/srv/hello.txt'])).toBe('hello from the registry\n')
  } finally {
    await destroyRuntime(other)
  }
})

test("run's pull policy: 'never' refuses, 'missing' pulls once, 'always' follows a moved tag", async () => {
  const other = tempRuntime()
  const v2 = buildOciImage({ layers: [(r) => void busyboxRootfs(r), (r) => writeFile(r, 'v.txt', 'v2\n')], cmd: ['cat', '/v.txt'] })
  const v1 = buildOciImage({ layers: [(r) => void busyboxRootfs(r), (r) => writeFile(r, 'v.txt', 'v1\n')], cmd: ['cat', '/v.txt'] })
  try {
    const ref = `${reg.host}/team/moving:latest`
    await skopeoPush(v1, ref)
    await expect(run(ref, undefined, { runtime: other, pull: 'never' })).rejects.toMatchObject({ code: 'ENOIMAGE' })
    expect(await output(other, ref, undefined)).toBe('v1\n')
    await skopeoPush(v2, ref)
    expect(await output(other, ref, undefined, { pull: 'missing' })).toBe('v1\n')
    expect(await output(other, ref, undefined, { pull: 'always' })).toBe('v2\n')
    await expect(run(ref, undefined, { runtime: other, pull: 'sometimes' as never })).rejects.toMatchObject({ code: 'EINVALID' })
  } finally {
    v1.remove()
    v2.remove()
    await destroyRuntime(other)
  }
})

test('push a pulled image to another repository (blobs mounted) and an imported one; skopeo reads them back', async () => {
  const img = await Image.get(`${reg.host}/team/app:1`, { runtime })
  const events: { status: string }[] = []
  const pushed = await img.push(`${reg.host}/copies/app:1`, { onProgress: (e) => events.push(e) })
  expect(pushed.digest).toBe(appDigest) // the stored manifest went up byte for byte
  expect(events.filter((e) => e.status === 'mounted')).toHaveLength(3)
  expect((await skopeoInspect(`${reg.host}/copies/app:1`)).Digest).toBe(appDigest)
  expect((await Image.get(img.id, { runtime })).details.repoDigests).toContain(`${reg.host}/copies/app@${appDigest}`)

  const dir = fs.mkdtempSync(path.join(runtime.root, 'rootfs-'))
  busyboxRootfs(dir)
  writeFile(dir, 'made-here.txt', 'made here\n')
  const local = await Image.import(dir, { runtime, ref: 'local:1', config: { cmd: ['cat', '/made-here.txt'] } })
  const res = await local.push(`${reg.host}/team/local:1`)
  const inspect = await skopeoInspect(`${reg.host}/team/local:1`)
  expect(inspect.Digest).toBe(res.digest)
  expect(inspect.Layers).toHaveLength(1)
  const other = tempRuntime()
  try {
    const back = await Image.pull(`${reg.host}/team/local:1`, { runtime: other })
    expect(back.id).toBe(local.id)
    expect(await output(other, `${reg.host}/team/local:1`, undefined)).toBe('made here\n')
  } finally {
    await destroyRuntime(other)
  }
})
