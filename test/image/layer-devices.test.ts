/**
 * Device nodes in layers, compared with Docker (a private engine): an image
 * whose layer was made by `docker build` with mknod (a /dev/null-like char
 * device and a block device) plus a layer written by GNU tar holding a 0/0
 * char device (an overlay whiteout hiding a lower file) loads here and in
 * `docker load`, and `ls -ln` shows the same in both; the nodes are real
 * devices in the unpacked layer. A device entry behind a symlinked directory
 * lands inside the layer, never on the host.
 */
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as tar from 'tar-stream'
import { Image } from '../../lib'
import { runOutput } from '../helpers'
import { useDockerFixture } from '../tools/docker-engine'

const dockerfile = `FROM mc-bb:dev-base
RUN mkdir /devs && busybox mknod /devs/nullish c 1 3 && busybox mknod /devs/blk b 7 200 && chmod 640 /devs/blk && chown 1000:50 /devs/nullish && echo bye > /devs/hidden
CMD ["ls", "-ln", "/devs"]
`

const fx = useDockerFixture({ base: 'mc-bb:dev-base', dockerfile, tag: 'mc-devs:1' })

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

/**
 * Adds a layer made by GNU tar (a 0/0 char device at devs/hidden: an overlay
 * whiteout) on top of a docker save archive, rewriting its config and manifest.
 */
function withWhiteoutLayer(saved: string, out: string): void {
  const dir = path.join(fx.work, 'archive')
  fs.mkdirSync(dir)
  execFileSync('tar', ['-C', dir, '-xf', saved])
  const tree = path.join(fx.work, 'whiteout-tree')
  fs.mkdirSync(path.join(tree, 'devs'), { recursive: true })
  execFileSync('mknod', [path.join(tree, 'devs/hidden'), 'c', '0', '0'])
  const layer = path.join(dir, 'whiteout-layer.tar')
  execFileSync('tar', ['-C', tree, '--numeric-owner', '-cf', layer, 'devs/hidden'])
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'))
  const config = JSON.parse(fs.readFileSync(path.join(dir, manifest[0].Config), 'utf8'))
  config.rootfs.diff_ids.push(`sha256:${sha(fs.readFileSync(layer))}`)
  config.history?.push({ created: config.created, created_by: 'GNU tar: a 0/0 char device' })
  const configBytes = Buffer.from(JSON.stringify(config))
  fs.writeFileSync(path.join(dir, `${sha(configBytes)}.json`), configBytes)
  manifest[0].Config = `${sha(configBytes)}.json`
  manifest[0].Layers.push('whiteout-layer.tar')
  manifest[0].RepoTags = ['mc-devs:whiteout']
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest))
  fs.rmSync(path.join(dir, 'repositories'), { force: true })
  execFileSync('tar', ['-C', dir, '-cf', out, '.'])
}

const ours = (ref: string, cmd?: string[]) => runOutput(fx.runtime, ref, cmd)

test('device nodes made by docker build and a 0/0 whiteout from GNU tar look the same here as after docker load', async () => {
  const saved = path.join(fx.work, 'devs.tar')
  await fx.engine.ok(['save', '-o', saved, 'mc-devs:1'])
  const archive = path.join(fx.work, 'devs-whiteout.tar')
  withWhiteoutLayer(saved, archive)
  await fx.engine.ok(['load', '-q', '-i', archive])
  const expected = await fx.engine.ok(['run', '--rm', '--network', 'none', 'mc-devs:whiteout'])
  expect(expected).toMatch(/^crw-r--r-- +1 1000 +50 +1, +3 .* nullish$/m)
  expect(expected).toMatch(/^brw-r----- +1 0 +0 +7, +200 .* blk$/m)
  expect(expected).not.toContain('hidden')

  const [img] = await Image.load(archive, { runtime: fx.runtime })
  expect(img.id).toBe(await fx.engine.ok(['inspect', '-f', '{{.Id}}', 'mc-devs:whiteout']))
  expect(await ours('mc-devs:whiteout')).toBe(`${expected}\n`)

  const layers = img.details.layers.map((d) => fx.runtime.images.layerPath(d))
  const nullish = fs.statSync(path.join(layers[layers.length - 2], 'devs/nullish'))
  expect([nullish.isCharacterDevice(), nullish.rdev, nullish.uid, nullish.gid]).toEqual([true, (1 << 8) | 3, 1000, 50])
  const blk = fs.statSync(path.join(layers[layers.length - 2], 'devs/blk'))
  expect([blk.isBlockDevice(), blk.rdev, blk.mode & 0o7777]).toEqual([true, (7 << 8) | 200, 0o640])
  const whiteout = fs.statSync(path.join(layers[layers.length - 1], 'devs/hidden'))
  expect([whiteout.isCharacterDevice(), whiteout.rdev]).toEqual([true, 0])
}, 120000)

test('a device entry behind a symlinked directory is created inside the layer, never on the host', async () => {
  const pack = tar.pack()
  const name = `mc-dev-escape-${process.pid}`
  pack.entry({ name: `${os.tmpdir().slice(1)}/`, type: 'directory' })
  pack.entry({ name: 'escape', type: 'symlink', linkname: os.tmpdir() })
  pack.entry({ name: `escape/${name}`, type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 })
  pack.finalize()
  const chunks: Buffer[] = []
  for await (const c of pack) chunks.push(c as Buffer)
  const layer = path.join(fx.work, 'escape.tar')
  fs.writeFileSync(layer, Buffer.concat(chunks))
  const img = await Image.import(layer, { runtime: fx.runtime, ref: 'mc-devs:escape' })
  expect(fs.existsSync(path.join(os.tmpdir(), name))).toBe(false)
  const inside = fs.statSync(path.join(fx.runtime.images.layerPath(img.details.layers[0]), os.tmpdir(), name))
  expect([inside.isCharacterDevice(), inside.rdev]).toEqual([true, (1 << 8) | 3])
})
