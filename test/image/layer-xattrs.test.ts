/**
 * Layer xattrs: PAX SCHILY.xattr.* records with binary values (a file
 * capability set by setcap, a user.* value that is not UTF-8) are kept when
 * a layer is unpacked and written when a tree becomes a layer (import,
 * commit), so save, load, push, pull and commit round trips keep them; GNU tar reads our
 * layers' records and we read its. Overlay's own attributes never cross.
 * Observed with getfattr -e hex, getcap and GNU tar.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Image, run, type Runtime } from '../../lib'
import { destroyRuntime, tempRuntime } from '../helpers'
import { startRegistry } from '../tools/registry'
import { attrs, expectTreeXattrs, requireXattrTools, sh, treeWithXattrs as makeTree } from './xattr-fixture'

let runtime: Runtime
let work: string

beforeAll(() => {
  requireXattrTools()
  runtime = tempRuntime()
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-xattr-'))
})
afterAll(async () => {
  await destroyRuntime(runtime)
  fs.rmSync(work, { recursive: true, force: true })
})

const layerDir = (rt: Runtime, diffId: string) => rt.images.layerPath(diffId)
const treeWithXattrs = (name: string, marks = false) => makeTree(path.join(work, name), marks)

test('a tree imported keeps binary xattrs; save writes them as PAX records GNU tar reads; load keeps them', async () => {
  const img = await Image.import(treeWithXattrs('tree1'), { runtime, ref: 'mc-xattr:1' })
  const [diffId] = img.details.layers
  expectTreeXattrs(layerDir(runtime, diffId))

  const out = path.join(work, 'saved.tar')
  await Image.save(['mc-xattr:1'], out, { runtime, format: 'docker' })
  const unpacked = path.join(work, 'saved')
  fs.mkdirSync(unpacked)
  sh('tar', ['-C', unpacked, '-xf', out])
  const [{ Layers }] = JSON.parse(fs.readFileSync(path.join(unpacked, 'manifest.json'), 'utf8'))
  const byGnuTar = path.join(work, 'by-gnu-tar')
  fs.mkdirSync(byGnuTar)
  sh('tar', ['--xattrs', '--xattrs-include=*', '-C', byGnuTar, '-xf', path.join(unpacked, Layers[0])])
  expectTreeXattrs(byGnuTar)

  const other = tempRuntime()
  try {
    const [loaded] = await Image.load(out, { runtime: other })
    expect(loaded.id).toBe(img.id)
    expectTreeXattrs(layerDir(other, diffId))
  } finally {
    await destroyRuntime(other)
  }
})

test('a GNU tar layer with binary xattrs unpacks with them; overlay marks in it are not set', async () => {
  const tree = treeWithXattrs('tree2', true)
  const layer = path.join(work, 'gnu.tar')
  sh('tar', ['--xattrs', '--xattrs-include=*', '-C', tree, '-cf', layer, '.'])
  // The layer does carry the overlay marks: they are refused, not missing.
  const bytes = fs.readFileSync(layer)
  for (const mark of ['SCHILY.xattr.trusted.overlay.opaque=y', 'SCHILY.xattr.user.overlay.redirect=/etc', 'SCHILY.xattr.security.capability=']) expect(bytes.includes(mark)).toBe(true)
  const img = await Image.import(layer, { runtime, ref: 'mc-xattr:gnu' })
  expectTreeXattrs(layerDir(runtime, img.details.layers[0]))
})

test('commit writes the xattrs of copied-up and new files into its layer, never overlay marks', async () => {
  await Image.import(treeWithXattrs('tree3'), { runtime, ref: 'mc-xattr:base' })
  // touch copies blob and pinger up (overlay keeps their xattrs and adds trusted.overlay.origin).
  const c = await run('mc-xattr:base', ['sh', '-c', 'touch /data/blob /bin/pinger && echo new > /data/new'], { runtime, network: 'none' })
  expect(await c.wait()).toEqual({ exitCode: 0 })
  const committed = await c.commit({ ref: 'mc-xattr:committed' })
  await c.remove()
  const top = layerDir(runtime, committed.details.layers[committed.details.layers.length - 1])
  expect(fs.readFileSync(path.join(top, 'data/new'), 'utf8')).toBe('new\n')
  expectTreeXattrs(top)
  expect(attrs(path.join(top, 'data/new'))).toBe('')
})

test('push and pull through a registry keep them', async () => {
  const registry = await startRegistry()
  const other = tempRuntime()
  try {
    const img = await Image.import(treeWithXattrs('tree4'), { runtime, ref: 'mc-xattr:push' })
    const ref = `${registry.host}/xattrs/img:1`
    await img.push(ref)
    const pulled = await Image.pull(ref, { runtime: other })
    expect(pulled.id).toBe(img.id)
    expectTreeXattrs(layerDir(other, pulled.details.layers[0]))
  } finally {
    await destroyRuntime(other)
    await registry.stop()
  }
})
