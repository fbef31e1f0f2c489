/**
 * Owner ids in tar headers (issue 17 point 2, left over): putArchive and
 * image layers (Image.import, Image.load) take an entry's uid and gid from
 * its PAX records when it has them, as Go's archive/tar and so Docker do,
 * and refuse an id the kernel cannot take (4294967295 and above) with
 * EUNSAFE; nothing is extracted or stored then.
 *
 * Docker (20.10, the private engine of test/tools/docker-engine.ts, tried
 * with these archives through `docker cp -` and `docker import`) owns the
 * file by the id truncated to 32 bits: 4294967296 gives uid 0 (root),
 * 4294967297 uid 1, 4294967295 leaves the extracting root's 0; ids up to
 * 4294967294 (3000000, 2147483648) are kept. Here the kept ones are kept
 * too, and the truncated ones refused: never a file of root's that was not
 * root's in the archive. Archives are made by Python's tarfile (PAX records,
 * and GNU base-256 header fields).
 */
import { execFileSync } from 'node:child_process'
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Image, run, type Runtime } from '../../lib'
import { useRuntime } from '../helpers'

let runtime: Runtime
let work: string
useRuntime((r) => (runtime = r), { busybox: true })
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-tar-ids-'))
})
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

const formats = ['PAX', 'GNU'] as const
const kept = [3000000, 2147483647, 2147483648, 4294967294]
const overflowing = [4294967296, 4294967297, 4294967295, 2 ** 53 + 2]

/** A tar (Python's tarfile in `format`) of one-byte files named by their owner's id, uid and gid alike. */
function archive(format: (typeof formats)[number], ids: number[]): string {
  const file = path.join(work, `${format}-${ids.join('-')}.tar`)
  const py = `import io, sys, tarfile
with tarfile.open(sys.argv[1], 'w', format=tarfile.${format}_FORMAT) as t:
    for i in sys.argv[2:]:
        ti = tarfile.TarInfo('f' + i); ti.uid = ti.gid = int(i); ti.size = 1; ti.mode = 0o644
        t.addfile(ti, io.BytesIO(b'x'))`
  execFileSync('python3', ['-c', py, file, ...ids.map(String)])
  return file
}

/** `docker save`'s layout around one layer: manifest.json, the config and the layer. */
function dockerArchive(layer: string, ref: string): string {
  const dir = fs.mkdtempSync(path.join(work, 'save-'))
  const diffId = `sha256:${crypto.createHash('sha256').update(fs.readFileSync(layer)).digest('hex')}`
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [diffId] } })
  fs.writeFileSync(path.join(dir, 'config.json'), config)
  fs.copyFileSync(layer, path.join(dir, 'layer.tar'))
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify([{ Config: 'config.json', RepoTags: [ref], Layers: ['layer.tar'] }]))
  const out = `${dir}.tar`
  execFileSync('tar', ['-C', dir, '-cf', out, 'manifest.json', 'config.json', 'layer.tar'])
  return out
}

const owners = (dir: string, ids: number[]) => ids.map((id) => {
  const st = fs.statSync(path.join(dir, `f${id}`))
  return `${st.uid}:${st.gid}`
})
const unsafeId = (id: number) => ({ code: 'EUNSAFE', message: expect.stringContaining(`its uid ${id} is not an id a file can have (0-4294967294)`) })

describe.each(formats)('%s headers', (format) => {
  test('putArchive keeps ids up to 4294967294 and refuses larger ones with EUNSAFE, extracting nothing', async () => {
    const c = await run('bb', ['sleep', '60'], { runtime, network: 'none' })
    try {
      await c.exec(['mkdir', '/dst'])
      await c.putArchive('/dst', fs.readFileSync(archive(format, kept)))
      const listed = (await c.exec(['sh', '-c', 'cd /dst && for f in *; do stat -c "%n %u:%g" $f; done'])).stdout
      expect(listed.trim().split('\n').sort()).toEqual(kept.map((id) => `f${id} ${id}:${id}`).sort())
      await c.exec(['sh', '-c', 'rm /dst/*'])
      for (const id of overflowing) {
        await expect(c.putArchive('/dst', fs.readFileSync(archive(format, [1000, id])))).rejects.toMatchObject(unsafeId(id))
        expect((await c.exec(['ls', '-A', '/dst'])).stdout).toBe('')
      }
    } finally {
      await c.remove({ force: true })
    }
  })

  test('an image layer (Image.import, Image.load) keeps ids up to 4294967294; a larger one is EUNSAFE and no image is stored', async () => {
    const img = await Image.import(archive(format, kept), { runtime, ref: `mc-ids-${format.toLowerCase()}:kept` })
    expect(owners(runtime.images.layerPath(img.details.layers[0]), kept)).toEqual(kept.map((id) => `${id}:${id}`))
    const before = (await Image.list({ runtime })).map((i) => i.id).sort()
    for (const id of overflowing) {
      const layer = archive(format, [1000, id])
      await expect(Image.import(layer, { runtime, ref: 'mc-ids:bad' })).rejects.toMatchObject(unsafeId(id))
      await expect(Image.load(dockerArchive(layer, 'mc-ids:loaded'), { runtime })).rejects.toMatchObject(unsafeId(id))
    }
    expect((await Image.list({ runtime })).map((i) => i.id).sort()).toEqual(before)
  })
})
