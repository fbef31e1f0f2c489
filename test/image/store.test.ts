/**
 * The content-addressed store's contract (blobs, layers, images from config
 * bytes), against the real filesystem, with tar and zstd as independent
 * producers of layer archives and a second Node process as a concurrent peer.
 */
import { execFile, execFileSync } from 'node:child_process'
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Readable } from 'node:stream'
import { promisify } from 'node:util'
import * as zlib from 'node:zlib'
import { Runtime } from '../../lib'
import { scratchName } from '../../lib/image/scratch'
import { destroyRuntime, tempRuntime } from '../helpers'
import { nodeScript } from '../tools/node-child'

let runtime: Runtime
let work: string
beforeAll(() => {
  runtime = tempRuntime()
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-store-'))
})
afterAll(async () => {
  await destroyRuntime(runtime)
  fs.rmSync(work, { recursive: true, force: true })
})

const sha = (b: Buffer) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`
const tmpEntries = () => [...fs.readdirSync(path.join(runtime.root, 'blobs/tmp')), ...fs.readdirSync(path.join(runtime.root, 'layers/tmp'))]

/** A layer tar made by GNU tar from a tree that `build` fills. */
function tarOf(name: string, build: (dir: string) => void): Buffer {
  const dir = path.join(work, name)
  fs.mkdirSync(dir)
  build(dir)
  return execFileSync('tar', ['-C', dir, '--sort=name', '--owner=0', '--group=0', '--mtime=@0', '-cf', '-', '.'], { maxBuffer: 1 << 28 })
}

async function ingest(bytes: Buffer): Promise<string> {
  const digest = sha(bytes)
  await runtime.images.ingestBlob(digest, Readable.from([bytes]), { size: bytes.length })
  return digest
}

test('ingestBlob stores verified content; a wrong digest or size is EDIGEST and stores nothing', async () => {
  const bytes = crypto.randomBytes(300_000)
  const digest = await ingest(bytes)
  expect(runtime.images.hasBlob(digest)).toBe(true)
  expect(fs.readFileSync(runtime.images.blobPath(digest)).equals(bytes)).toBe(true)

  const other = crypto.randomBytes(1000)
  const claimed = sha(Buffer.from('something else'))
  await expect(runtime.images.ingestBlob(claimed, Readable.from([other]))).rejects.toMatchObject({ code: 'EDIGEST' })
  await expect(runtime.images.ingestBlob(sha(other), Readable.from([other]), { size: 999 })).rejects.toMatchObject({ code: 'EDIGEST' })
  await expect(runtime.images.ingestBlob(sha(other), Readable.from([other]), { size: 1001 })).rejects.toMatchObject({ code: 'EDIGEST' })
  expect(runtime.images.hasBlob(claimed)).toBe(false)
  expect(runtime.images.hasBlob(sha(other))).toBe(false)
  expect(() => runtime.images.hasBlob('sha256:XYZ')).toThrow(expect.objectContaining({ code: 'EINVALID' }))
  expect(tmpEntries()).toEqual([])
})

test('two processes ingesting and unpacking one layer at once both succeed with one blob and one layer', async () => {
  const tar = tarOf('shared', (d) => {
    for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(d, `f${i}`), crypto.randomBytes(20_000))
  })
  const gz = zlib.gzipSync(tar)
  const file = path.join(work, 'shared.tar.gz')
  fs.writeFileSync(file, gz)
  const digest = sha(gz)
  const peer = `
    const fs = require('node:fs')
    const { ImageStore } = lib('image/store')
    const store = new ImageStore(${JSON.stringify(runtime.root)})
    store.ingestBlob(${JSON.stringify(digest)}, fs.createReadStream(${JSON.stringify(file)}))
      .then(() => store.unpackLayer(${JSON.stringify(digest)}, 'application/vnd.oci.image.layer.v1.tar+gzip'))
      .then((d) => process.stdout.write(d), (e) => { console.error(e); process.exit(1) })`
  const [other, ...here] = await Promise.all([
    promisify(execFile)(process.execPath, ['-e', nodeScript(peer)]),
    ...[1, 2].map(async () => {
      await runtime.images.ingestBlob(digest, fs.createReadStream(file), { size: gz.length })
      return runtime.images.unpackLayer(digest, 'application/vnd.oci.image.layer.v1.tar+gzip')
    }),
  ])
  expect(other.stdout).toBe(sha(tar))
  expect(here).toEqual([sha(tar), sha(tar)])
  expect(fs.readdirSync(runtime.images.layerPath(sha(tar))).length).toBe(200)
  expect(tmpEntries()).toEqual([])
})

test('gzip, zstd and plain blobs of one tar unpack to one diffID and one shared layer', async () => {
  const tar = tarOf('formats', (d) => {
    fs.mkdirSync(path.join(d, 'etc'))
    fs.writeFileSync(path.join(d, 'etc/motd'), 'hello\n')
    fs.symlinkSync('motd', path.join(d, 'etc/link'))
    fs.linkSync(path.join(d, 'etc/motd'), path.join(d, 'etc/hard'))
  })
  const zst = execFileSync('zstd', ['-q', '-c', '-'], { input: tar })
  const ids = []
  for (const [bytes, type] of [[tar, 'application/vnd.oci.image.layer.v1.tar'], [zlib.gzipSync(tar), 'application/vnd.docker.image.rootfs.diff.tar.gzip'], [zst, 'application/vnd.oci.image.layer.v1.tar+zstd']] as const)
    ids.push(await runtime.images.unpackLayer(await ingest(bytes), type))
  expect(ids).toEqual([sha(tar), sha(tar), sha(tar)])
  const dir = runtime.images.layerPath(sha(tar))
  expect(fs.readFileSync(path.join(dir, 'etc/motd'), 'utf8')).toBe('hello\n')
  expect(fs.readlinkSync(path.join(dir, 'etc/link'))).toBe('motd')
  expect(fs.statSync(path.join(dir, 'etc/hard')).ino).toBe(fs.statSync(path.join(dir, 'etc/motd')).ino)
  expect(runtime.images.hasLayer(sha(tar))).toBe(true)
})

test('OCI whiteouts become overlay whiteouts and opaque directories', async () => {
  const tar = tarOf('whiteouts', (d) => {
    fs.mkdirSync(path.join(d, 'gone-dir'))
    fs.writeFileSync(path.join(d, '.wh.deleted'), '')
    fs.mkdirSync(path.join(d, 'replaced'))
    fs.writeFileSync(path.join(d, 'replaced/.wh..wh..opq'), '')
    fs.writeFileSync(path.join(d, 'replaced/new'), 'n')
  })
  const diffId = await runtime.images.unpackLayer(await ingest(tar))
  const dir = runtime.images.layerPath(diffId)
  const wh = fs.lstatSync(path.join(dir, 'deleted'))
  expect(wh.isCharacterDevice() && wh.rdev === 0).toBe(true)
  expect(execFileSync('python3', ['-c', 'import os,sys; sys.stdout.write(os.getxattr(sys.argv[1], "trusted.overlay.opaque").decode())', path.join(dir, 'replaced')]).toString()).toBe('y')
  expect(fs.readdirSync(path.join(dir, 'replaced'))).toEqual(['new'])
})

test('a broken layer or an unknown media type is a coded error and leaves no layer', async () => {
  const tar = tarOf('truncated', (d) => fs.writeFileSync(path.join(d, 'big'), crypto.randomBytes(100_000)))
  const cut = zlib.gzipSync(tar).subarray(0, 20_000)
  await expect(runtime.images.unpackLayer(await ingest(cut))).rejects.toMatchObject({ code: 'EINVALID' })
  await expect(runtime.images.unpackLayer(await ingest(Buffer.from('not a tar'.repeat(100))))).rejects.toMatchObject({ code: 'EINVALID' })
  await expect(runtime.images.unpackLayer(await ingest(tar), 'application/vnd.example.unknown')).rejects.toMatchObject({ code: 'EINVALID' })
  expect(runtime.images.hasLayer(sha(tar))).toBe(false)
  await expect(runtime.images.unpackLayer(sha(Buffer.from('never stored')))).rejects.toMatchObject({ code: 'ENOTFOUND' })
  expect(tmpEntries()).toEqual([])
})

test('putImageFromConfig: id is the config digest; refs, repoDigests and the manifest are kept; layers must be unpacked', async () => {
  const tar = tarOf('img', (d) => fs.writeFileSync(path.join(d, 'x'), 'x'))
  const diffId = await runtime.images.unpackLayer(await ingest(tar))
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'], Env: ['A=1'], ExposedPorts: { '80/tcp': {} }, StopSignal: 'SIGQUIT' }, rootfs: { type: 'layers', diff_ids: [diffId] } }))
  const manifest = Buffer.from('{"schemaVersion":2}')
  const rec = runtime.images.putImageFromConfig(config, { refs: ['app:1'], repoDigests: [`reg/app@${sha(manifest)}`], manifest: { bytes: manifest, mediaType: 'application/vnd.oci.image.manifest.v1+json' } })
  expect(rec.id).toBe(sha(config))
  expect(rec.layers).toEqual([diffId])
  expect(rec.config).toEqual({ cmd: ['sh'], env: ['A=1'], exposedPorts: ['80/tcp'], stopSignal: 'SIGQUIT' })
  expect(rec.repoDigests).toEqual([`reg/app@${sha(manifest)}`])
  expect(runtime.images.resolve('app:1').id).toBe(rec.id)
  expect(runtime.images.hasBlob(sha(manifest)) && runtime.images.hasBlob(rec.id)).toBe(true)
  const orphan = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(Buffer.from('no layer'))] } }))
  expect(() => runtime.images.putImageFromConfig(orphan)).toThrow(expect.objectContaining({ code: 'ENOTFOUND' }))
  expect(() => runtime.images.putImageFromConfig(Buffer.from('{}'))).toThrow(expect.objectContaining({ code: 'EINVALID' }))
})

test('ingestLayer unpacks while it ingests; a layer is committed only once its blob verified', async () => {
  const pieces = (bytes: Buffer) => Readable.from((function* () {
    for (let i = 0; i < bytes.length; i += 64 << 10) yield bytes.subarray(i, i + (64 << 10))
  })())
  const gzType = 'application/vnd.oci.image.layer.v1.tar+gzip'
  const tar = tarOf('streamed', (d) => {
    fs.writeFileSync(path.join(d, 'big'), crypto.randomBytes(3 << 20)) // more than the tee's buffers
    for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(d, `f${i}`), `file ${i}\n`)
  })
  const gz = zlib.gzipSync(tar)
  expect(await runtime.images.ingestLayer(sha(gz), gzType, pieces(gz), { size: gz.length })).toBe(sha(tar))
  expect(fs.readFileSync(runtime.images.blobPath(sha(gz))).equals(gz)).toBe(true)
  expect(fs.readdirSync(runtime.images.layerPath(sha(tar))).length).toBe(51)
  // Present already: the bytes are read (and verified) and nothing is unpacked again.
  expect(await runtime.images.ingestLayer(sha(gz), gzType, pieces(gz))).toBe(sha(tar))

  // A valid layer under a digest it does not have: fully unpackable, yet never committed.
  const unverified = tarOf('unverified', (d) => fs.writeFileSync(path.join(d, 'big'), crypto.randomBytes(2 << 20)))
  const claimed = sha(Buffer.from('another blob'))
  await expect(runtime.images.ingestLayer(claimed, gzType, pieces(zlib.gzipSync(unverified)))).rejects.toMatchObject({ code: 'EDIGEST' })
  expect(runtime.images.hasLayer(sha(unverified))).toBe(false)
  expect(runtime.images.hasBlob(claimed)).toBe(false)

  // A verified blob that is no archive: EINVALID, no layer.
  const junk = Buffer.concat([Buffer.from([0x1f, 0x8b]), crypto.randomBytes(1 << 20)])
  await expect(runtime.images.ingestLayer(sha(junk), gzType, pieces(junk))).rejects.toMatchObject({ code: 'EINVALID' })
  expect(tmpEntries()).toEqual([])
})

test('ingestLayer reuses a few 1 MiB buffers for a large layer, and no buffer is reused while its blob write, its hash or the unpacker still reads it', async () => {
  const pieces = (bytes: Buffer) => Readable.from((function* () {
    for (let i = 0; i < bytes.length; i += 64 << 10) yield bytes.subarray(i, i + (64 << 10))
  })())
  const content = crypto.randomBytes(24 << 20)
  const tar = tarOf('pooled', (d) => {
    fs.writeFileSync(path.join(d, 'big'), content)
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(d, `f${i}`), `file ${i}\n`.repeat(1000))
  })
  const gz = zlib.gzipSync(tar, { level: 1 })
  const allocUnsafe = jest.spyOn(Buffer, 'allocUnsafe')
  try {
    // gzip: zlib copies what it inflates, so a chunk's three readers all give it back.
    expect(await runtime.images.ingestLayer(sha(gz), 'application/vnd.oci.image.layer.v1.tar+gzip', pieces(gz), { size: gz.length })).toBe(sha(tar))
    const megabytes = allocUnsafe.mock.calls.filter(([n]) => n === 1 << 20).length
    expect(megabytes).toBeLessThanOrEqual(10) // of 25 chunks
  } finally {
    allocUnsafe.mockRestore()
  }
  expect(fs.readFileSync(runtime.images.blobPath(sha(gz))).equals(gz)).toBe(true)
  expect(fs.readFileSync(path.join(runtime.images.layerPath(sha(tar)), 'big')).equals(content)).toBe(true)
  // A plain tar: tar-stream's entries are views of the chunks themselves, which must not be reused.
  const plainContent = crypto.randomBytes(12 << 20)
  const plain = tarOf('pooled-plain', (d) => fs.writeFileSync(path.join(d, 'big'), plainContent))
  expect(await runtime.images.ingestLayer(sha(plain), 'application/vnd.oci.image.layer.v1.tar', pieces(plain), { size: plain.length })).toBe(sha(plain))
  expect(fs.readFileSync(runtime.images.blobPath(sha(plain))).equals(plain)).toBe(true)
  expect(fs.readFileSync(path.join(runtime.images.layerPath(sha(plain)), 'big')).equals(plainContent)).toBe(true)
  expect(tmpEntries()).toEqual([])
})

test("ingestLayer takes a download's chunks as they come (any async iterable of buffers), unpacking it or, with the layer present, storing the blob", async () => {
  const tar = tarOf('iterable', (d) => fs.writeFileSync(path.join(d, 'data'), crypto.randomBytes(3 << 20)))
  const gz = zlib.gzipSync(tar)
  async function* download(bytes: Buffer) {
    for (let i = 0; i < bytes.length; i += 64 << 10) yield bytes.subarray(i, i + (64 << 10))
  }
  expect(await runtime.images.ingestLayer(sha(gz), 'application/vnd.oci.image.layer.v1.tar+gzip', download(gz), { size: gz.length })).toBe(sha(tar))
  expect(fs.readFileSync(runtime.images.blobPath(sha(gz))).equals(gz)).toBe(true)
  // The same layer as a plain tar: only its blob is stored.
  expect(await runtime.images.ingestLayer(sha(tar), 'application/vnd.oci.image.layer.v1.tar', download(tar), { size: tar.length })).toBe(sha(tar))
  expect(fs.readFileSync(runtime.images.blobPath(sha(tar))).equals(tar)).toBe(true)
  expect(tmpEntries()).toEqual([])
})

test('ingestLayer: a download that breaks off, or has another size than announced, stores nothing', async () => {
  const gzType = 'application/vnd.oci.image.layer.v1.tar+gzip'
  const tar = tarOf('broken-off', (d) => fs.writeFileSync(path.join(d, 'big'), crypto.randomBytes(4 << 20)))
  const gz = zlib.gzipSync(tar)
  const brokenOff = Readable.from((async function* () {
    yield gz.subarray(0, 3 << 20) // more than one coalesced buffer reaches the blob and the unpacker
    throw new Error('connection reset')
  })())
  await expect(runtime.images.ingestLayer(sha(gz), gzType, brokenOff, { size: gz.length })).rejects.toThrow('connection reset')
  const cancelled = new AbortController()
  const stopped = Readable.from((async function* () {
    yield gz.subarray(0, 2 << 20)
    cancelled.abort(new Error('cancelled'))
    yield gz.subarray(2 << 20)
  })())
  await expect(runtime.images.ingestLayer(sha(gz), gzType, stopped, { signal: cancelled.signal })).rejects.toThrow('cancelled')
  await expect(runtime.images.ingestLayer(sha(gz), gzType, Readable.from([gz]), { size: gz.length + 1 })).rejects.toMatchObject({ code: 'EDIGEST' })
  expect(runtime.images.hasBlob(sha(gz)) || runtime.images.hasLayer(sha(tar))).toBe(false)
  expect(tmpEntries()).toEqual([])
})

test("a store opened on the root removes the scratch of processes that no longer run, also one whose pid now names another process; a live process's stays", async () => {
  // A killed writer's scratch whose pid was reused meanwhile: here this process's pid, with a start time it never had.
  const reused = `${process.pid}-1-0123456789abcdef`
  const mine = scratchName()
  const dirs = ['blobs/tmp', 'layers/tmp'].map((d) => path.join(runtime.root, d))
  for (const d of dirs) for (const name of [reused, mine]) fs.mkdirSync(path.join(d, name, 'diff'), { recursive: true })
  try {
    new Runtime({ root: runtime.root }) // opens the image stores: no ready() needed
    expect(tmpEntries().sort()).toEqual([mine, mine])
  } finally {
    for (const d of dirs) for (const name of [reused, mine]) fs.rmSync(path.join(d, name), { recursive: true, force: true })
  }
})

test('ingests failing at once (another size than announced) leave no temp file, also when they fail before the file is open', async () => {
  const other = crypto.randomBytes(1000)
  for (let i = 0; i < 200; i++) await expect(runtime.images.ingestBlob(sha(other), Readable.from([other]), { size: i % 2 ? 999 : 1001 })).rejects.toMatchObject({ code: 'EDIGEST' })
  expect(tmpEntries()).toEqual([])
})
