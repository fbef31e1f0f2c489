/**
 * Pushing blobs and manifests to a real docker-registry, read back with
 * skopeo: monolithic and chunked uploads, blobs already there, a
 * cross-repository mount, token auth with push scope, manifest last.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { pushImage, type PushBlob, type PushProgress, type PushSource } from '../../lib/image/registry/push'
import { MiniContainerError } from '../../lib/errors'
import { startRegistry } from '../tools/registry'
import { buildOciImage, skopeoInspect, skopeoRaw, writeFile, type OciLayout } from '../tools/oci-image'
import * as crypto from 'node:crypto'

jest.setTimeout(90_000)

/** The push source of an OCI layout built by umoci: its manifest byte for byte and its blob files. */
function sourceOf(layout: OciLayout): PushSource {
  const index = JSON.parse(fs.readFileSync(path.join(layout.dir, 'index.json'), 'utf8'))
  const blob = (digest: string) => path.join(layout.dir, 'blobs', ...digest.split(':'))
  const mdesc = index.manifests[0]
  const bytes = fs.readFileSync(blob(mdesc.digest))
  const manifest = JSON.parse(bytes.toString('utf8'))
  const toBlob = (d: { digest: string; size: number; mediaType: string }): PushBlob => ({ digest: d.digest, size: d.size, mediaType: d.mediaType, path: blob(d.digest) })
  return { config: toBlob(manifest.config), layers: manifest.layers.map(toBlob), manifest: { bytes, mediaType: mdesc.mediaType } }
}

let layout: OciLayout
let source: PushSource
beforeAll(() => {
  layout = buildOciImage({
    layers: [(r) => writeFile(r, 'a.txt', 'a\n'), (r) => writeFile(r, 'big.bin', crypto.randomBytes(600 << 10)), (r) => writeFile(r, 'c.txt', 'c\n')],
    cmd: ['cat', '/a.txt'],
  })
  source = sourceOf(layout)
})
afterAll(() => layout?.remove())

test('push: blobs then manifest; skopeo reads back the same digest and layers; a second push finds every blob', async () => {
  const reg = await startRegistry()
  try {
    const events: PushProgress[] = []
    const res = await pushImage(source, `${reg.host}/team/app:1`, { onProgress: (e) => events.push(e), chunkSize: 256 << 10 })
    const expected = `sha256:${crypto.createHash('sha256').update(source.manifest!.bytes).digest('hex')}`
    expect(res.digest).toBe(expected)
    const inspect = await skopeoInspect(`${reg.host}/team/app:1`)
    expect(inspect.Digest).toBe(expected)
    expect(inspect.Layers).toEqual(source.layers.map((l) => l.digest))
    expect(Buffer.from(await skopeoRaw(`${reg.host}/team/app:1`)).equals(source.manifest!.bytes)).toBe(true)
    // The 600 KiB layer went up in PATCH chunks: progress below the total was reported for it.
    const big = source.layers.reduce((a, b) => (b.size > a.size ? b : a))
    expect(events.some((e) => e.digest === big.digest && e.status === 'uploading' && e.bytes < big.size)).toBe(true)
    expect(events.filter((e) => e.status === 'done')).toHaveLength(3)

    const again: PushProgress[] = []
    await pushImage(source, `${reg.host}/team/app:2`, { onProgress: (e) => again.push(e) })
    expect(again.filter((e) => e.status === 'exists')).toHaveLength(3)
    expect((await skopeoInspect(`${reg.host}/team/app:2`)).Digest).toBe(expected)
  } finally {
    await reg.stop()
  }
})

test('push to another repository mounts the blobs from the one they are known in', async () => {
  const reg = await startRegistry()
  try {
    await pushImage(source, `${reg.host}/team/app:1`)
    const events: PushProgress[] = []
    await pushImage({ ...source, knownIn: [`${reg.host}/team/app`] }, `${reg.host}/other/app:1`, { onProgress: (e) => events.push(e) })
    expect(events.filter((e) => e.status === 'mounted')).toHaveLength(3)
    expect((await skopeoInspect(`${reg.host}/other/app:1`)).Layers).toEqual(source.layers.map((l) => l.digest))
  } finally {
    await reg.stop()
  }
})

test('push with token auth asks for pull,push; a user with pull only gets EAUTH and the tag is not written', async () => {
  const reg = await startRegistry({ type: 'token', users: { bob: 'pw', reader: 'pw' }, policy: (user, _repo, asked) => (user === 'reader' ? asked.filter((a) => a === 'pull') : asked) })
  try {
    const res = await pushImage(source, `${reg.host}/team/app:1`, { auth: { username: 'bob', password: 'pw' } })
    expect(reg.tokenRequests.some((r) => r.scopes.includes('repository:team/app:pull,push'))).toBe(true)
    expect((await skopeoInspect(`${reg.host}/team/app:1`, 'bob:pw')).Digest).toBe(res.digest)
    let err: unknown
    try {
      await pushImage(source, `${reg.host}/team/app:2`, { auth: { username: 'reader', password: 'pw' } })
    } catch (e) {
      err = e
    }
    expect((err as MiniContainerError).code).toBe('EAUTH')
    expect((err as Error).message).toContain('repository:team/app')
    await expect(skopeoInspect(`${reg.host}/team/app:2`, 'bob:pw')).rejects.toThrow(/manifest unknown|not found/i)
  } finally {
    await reg.stop()
  }
})

test('a blob whose bytes do not match its digest is refused by the registry (EREGISTRY) and nothing is tagged; a wrong size is EDIGEST before any upload', async () => {
  const reg = await startRegistry()
  const copy = path.join(path.dirname(layout.dir), 'tampered-layer')
  try {
    const bytes = fs.readFileSync(source.layers[0].path)
    bytes[bytes.length - 3] ^= 0xff
    fs.writeFileSync(copy, bytes)
    const tampered: PushSource = { ...source, layers: [{ ...source.layers[0], path: copy }] }
    const refused = pushImage(tampered, `${reg.host}/team/bad:1`)
    await expect(refused).rejects.toMatchObject({ code: 'EREGISTRY' })
    await expect(refused).rejects.toThrow(/DIGEST_INVALID|digest/i)
    await expect(skopeoInspect(`${reg.host}/team/bad:1`)).rejects.toThrow(/manifest unknown|not found/i)
    fs.writeFileSync(copy, Buffer.concat([bytes, Buffer.alloc(1)]))
    await expect(pushImage(tampered, `${reg.host}/team/bad:1`)).rejects.toMatchObject({ code: 'EDIGEST' })
    await expect(pushImage(source, `${reg.host}/team/bad@sha256:${'a'.repeat(64)}`)).rejects.toMatchObject({ code: 'EINVALID' })
  } finally {
    fs.rmSync(copy, { force: true })
    await reg.stop()
  }
})
