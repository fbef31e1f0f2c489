/**
 * Layer xattrs: PAX SCHILY.xattr.* records with binary values (a file
 * capability set by setcap, a user.* value that is not UTF-8) are kept when
 * a layer is unpacked and written when a tree becomes a layer (import,
 * commit), so save, load, push, pull and commit round trips keep them; GNU tar reads our
 * layers' records and we read its. Overlay's own attributes never cross.
 * Observed with getfattr -e hex, getcap and GNU tar.
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Image, run, type Runtime } from '../../lib'
import { busyboxRootfs, destroyRuntime, tempRuntime } from '../helpers'
import { requireTool, startRegistry } from '../tools/registry'

let runtime: Runtime
let work: string

beforeAll(() => {
  for (const [tool, pkg] of [['getfattr', 'attr'], ['setfattr', 'attr'], ['setcap', 'libcap2-bin'], ['getcap', 'libcap2-bin'], ['tar', 'tar']]) requireTool(tool, pkg)
  runtime = tempRuntime()
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-xattr-'))
})
afterAll(async () => {
  await destroyRuntime(runtime)
  fs.rmSync(work, { recursive: true, force: true })
})

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' })

/** getfattr's hex dump of one path's attributes, in every namespace, without the "# file" line. */
function attrs(file: string): string {
  return sh('getfattr', ['-h', '-d', '-e', 'hex', '-m', '-', '--absolute-names', file])
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .sort()
    .join('\n')
}

/**
 * A busybox rootfs with a capability on a copy of busybox, a binary user.*
 * xattr on a file and one on a dir, and with `marks` overlay's own (a tree
 * walked into a layer reads an opaque mark as an opaque dir: only layers made
 * by another tool carry them through).
 */
function treeWithXattrs(name: string, marks = false): string {
  const dir = busyboxRootfs(path.join(work, name))
  fs.mkdirSync(path.join(dir, 'data'))
  fs.writeFileSync(path.join(dir, 'data/blob'), 'payload\n')
  fs.copyFileSync(path.join(dir, 'bin/busybox'), path.join(dir, 'bin/pinger'))
  fs.chmodSync(path.join(dir, 'bin/pinger'), 0o755)
  sh('setcap', ['cap_net_raw+ep', path.join(dir, 'bin/pinger')])
  sh('setfattr', ['-n', 'user.mc', '-v', '0xff00fe80', path.join(dir, 'data/blob')])
  sh('setfattr', ['-n', 'user.dir', '-v', '0x01ff', path.join(dir, 'data')])
  sh('setfattr', ['-n', 'trusted.mc', '-v', '0x80', path.join(dir, 'data/blob')])
  if (!marks) return dir
  // Overlay's own marks: never set from a layer.
  sh('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(dir, 'data')])
  sh('setfattr', ['-n', 'user.overlay.redirect', '-v', '/etc', path.join(dir, 'data/blob')])
  return dir
}

const expectedBlob = 'trusted.mc=0x80\nuser.mc=0xff00fe80'
const expectedDir = 'user.dir=0x01ff'
const layerDir = (rt: Runtime, diffId: string) => rt.images.layerPath(diffId)

function expectLayerXattrs(root: string): void {
  expect(attrs(path.join(root, 'data/blob'))).toBe(expectedBlob)
  expect(attrs(path.join(root, 'data'))).toBe(expectedDir)
  expect(sh('getcap', [path.join(root, 'bin/pinger')])).toContain('cap_net_raw=ep')
}

test('a tree imported keeps binary xattrs; save writes them as PAX records GNU tar reads; load keeps them', async () => {
  const img = await Image.import(treeWithXattrs('tree1'), { runtime, ref: 'mc-xattr:1' })
  const [diffId] = img.details.layers
  expectLayerXattrs(layerDir(runtime, diffId))

  const out = path.join(work, 'saved.tar')
  await Image.save(['mc-xattr:1'], out, { runtime, format: 'docker' })
  const unpacked = path.join(work, 'saved')
  fs.mkdirSync(unpacked)
  sh('tar', ['-C', unpacked, '-xf', out])
  const [{ Layers }] = JSON.parse(fs.readFileSync(path.join(unpacked, 'manifest.json'), 'utf8'))
  const byGnuTar = path.join(work, 'by-gnu-tar')
  fs.mkdirSync(byGnuTar)
  sh('tar', ['--xattrs', '--xattrs-include=*', '-C', byGnuTar, '-xf', path.join(unpacked, Layers[0])])
  expectLayerXattrs(byGnuTar)

  const other = tempRuntime()
  try {
    const [loaded] = await Image.load(out, { runtime: other })
    expect(loaded.id).toBe(img.id)
    expectLayerXattrs(layerDir(other, diffId))
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
  expectLayerXattrs(layerDir(runtime, img.details.layers[0]))
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
  expectLayerXattrs(top)
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
    expectLayerXattrs(layerDir(other, pulled.details.layers[0]))
  } finally {
    await destroyRuntime(other)
    await registry.stop()
  }
})
