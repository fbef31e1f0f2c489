/**
 * Image.load holds no archive entry in memory because it is small: a
 * gzip bomb of many mid-sized zero-filled entries (a 1 GiB tar in about
 * a megabyte) is loaded in a child process whose peak RSS is measured, and
 * metadata too large to be a manifest, index or config is a coded error
 * naming the entry and the limit.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as zlib from 'node:zlib'
import { pipeline } from 'node:stream/promises'
import * as tar from 'tar-stream'
import { Image } from '../../lib'
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
