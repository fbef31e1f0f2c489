/**
 * Image.load against hostile and odd archives: it holds no archive entry
 * in memory because it is small (a gzip bomb of many mid-sized
 * zero-filled entries, a 1 GiB tar in about a megabyte, is loaded in a
 * child process whose peak RSS is measured), metadata too large to be a
 * manifest, index or config is a coded error naming the entry and the
 * limit, and layer entries named with bytes that are not UTF-8 keep them.
 */
import { execFileSync } from 'node:child_process'
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as zlib from 'node:zlib'
import { pipeline } from 'node:stream/promises'
import * as tar from 'tar-stream'
import { Image } from '../../lib'
import { hostPlatform } from '../../lib/image/platform'
import { destroyRuntime, tempRuntime } from '../helpers'
import { runNodeSync } from '../tools/node-child'

jest.setTimeout(180_000)

let work: string
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-archive-bounds-'))
})
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

/** Writes a tar.gz of `entries` (name, bytes) to `file`; bytes are produced one entry at a time. */
async function writeTarGz(file: string, entries: Iterable<[string, Buffer]>): Promise<void> {
  const pack = tar.pack()
  const writing = pipeline(pack, zlib.createGzip(), fs.createWriteStream(file))
  for (const [name, body] of entries) await new Promise<void>((resolve, reject) => pack.entry({ name }, body, (err) => (err ? reject(err) : resolve())))
  pack.finalize()
  await writing
}

function* zeroEntries(count: number, size: number): Generator<[string, Buffer]> {
  const zeros = Buffer.alloc(size)
  for (let i = 0; i < count; i++) yield [`junk/${i}.bin`, zeros]
}

test('a gzip bomb of 4,096 zero-filled 256 KiB entries: EINVALID with the loader growing by under 200 MB (RSS peak)', async () => {
  const bomb = path.join(work, 'bomb.tar.gz')
  await writeTarGz(bomb, zeroEntries(4096, 256 << 10))
  const root = path.join(work, 'root')
  const r = runNodeSync(
    `const { Image, Runtime } = lib()
    const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1])
    ;(async () => {
      const runtime = new Runtime({ root: ${JSON.stringify(root)} })
      const before = hwm()
      const code = await Image.load(${JSON.stringify(bomb)}, { runtime }).then(() => 'loaded', (e) => e.code)
      console.log(JSON.stringify({ code, before, after: hwm(), blobs: require('node:fs').readdirSync(${JSON.stringify(path.join(root, 'blobs/sha256'))}) }))
    })()`,
    { timeoutMs: 150_000 },
  )
  expect(r.stderr).toBe('')
  const out = JSON.parse(r.stdout) as { code: string; before: number; after: number; blobs: string[] }
  process.stdout.write(`bomb of ${fs.statSync(bomb).size} bytes: VmHWM ${out.before} KiB before the load, ${out.after} KiB after\n`)
  expect(out.code).toBe('EINVALID')
  expect((out.after - out.before) * 1024).toBeLessThan(200e6)
  expect(out.blobs).toEqual([])
})

test('a manifest.json over 8 MiB is EINVALID naming it and the limit; nothing is stored', async () => {
  const big = path.join(work, 'big-manifest.tar.gz')
  await writeTarGz(big, [['manifest.json', Buffer.concat([Buffer.from('[ '), Buffer.alloc(9 << 20, ' '), Buffer.from(']')])]])
  const rt = tempRuntime()
  try {
    await expect(Image.load(big, { runtime: rt })).rejects.toMatchObject({ code: 'EINVALID', message: expect.stringMatching(/"manifest.json" in the image archive is 9437187 bytes: more than the 8388608/) })
    expect(fs.readdirSync(path.join(rt.root, 'blobs/sha256'))).toEqual([])
  } finally {
    await destroyRuntime(rt)
  }
})

test('a layer entry named with bytes ff fe loads under those bytes, beside a UTF-8 name (as GNU tar wrote them)', async () => {
  const src = path.join(work, 'names-src')
  fs.mkdirSync(src)
  fs.writeFileSync(Buffer.from(`${src}/\xff\xfe`, 'latin1'), 'raw\n')
  fs.writeFileSync(path.join(src, 'h\u00e9llo'), 'utf8\n')
  const layer = execFileSync('tar', ['-C', src, '-cf', '-', '.'])
  const diffId = `sha256:${crypto.createHash('sha256').update(layer).digest('hex')}`
  const config = JSON.stringify({ architecture: hostPlatform().architecture, os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [diffId] } })
  const manifest = JSON.stringify([{ Config: 'config.json', RepoTags: ['names:1'], Layers: ['layer.tar'] }])
  const archive = path.join(work, 'names.tar.gz')
  await writeTarGz(archive, [['manifest.json', Buffer.from(manifest)], ['config.json', Buffer.from(config)], ['layer.tar', layer]])
  const rt = tempRuntime()
  try {
    const [img] = await Image.load(archive, { runtime: rt })
    const names = fs.readdirSync(img.layerDirs[0], { encoding: 'buffer' }).map((n) => n.toString('hex'))
    expect(names.sort()).toEqual(['fffe', Buffer.from('h\u00e9llo').toString('hex')].sort())
    expect(fs.readFileSync(Buffer.from(`${img.layerDirs[0]}/\xff\xfe`, 'latin1'), 'utf8')).toBe('raw\n')
  } finally {
    await destroyRuntime(rt)
  }
})
