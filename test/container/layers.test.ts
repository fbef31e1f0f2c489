import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Image, run, type Runtime } from '../../lib'
import { sleep, useRuntime } from '../helpers'

let runtime: Runtime
let bb: Image

useRuntime((r, b) => ((runtime = r), (bb = b!)), { hostImage: false, busybox: true })

/** Blocks used on disk by a directory, in KiB (du counts each hard-linked inode once). */
const du = (dir: string) => Number(execFileSync('du', ['-sk', dir], { encoding: 'utf8' }).split('\t')[0])

test('sizeRw counts the writable layer only; sizeRootFs the whole view', async () => {
  const c = await run('bb', ['sh', '-c', 'head -c 300000 /dev/zero > /tmp/blob; sleep 30'], { runtime })
  await sleep(200)
  const info = await c.inspect({ size: true })
  expect(info.sizeRw).toBeGreaterThanOrEqual(300000)
  expect(info.sizeRw).toBeLessThan(310000)
  const imageBytes = info.sizeRootFs! - info.sizeRw!
  expect(imageBytes).toBeGreaterThan(500000) // the busybox binary
  expect((await c.inspect()).sizeRw).toBeUndefined()
  await c.remove({ force: true })
})

test('two containers of one image share its layers on disk', async () => {
  const before = du(runtime.root)
  const a = await run('bb', ['sleep', '30'], { runtime })
  const b = await run('bb', ['sleep', '30'], { runtime })
  const layerKiB = du(bb.layerDirs[0])
  const grown = du(runtime.root) - before
  // Each container adds only its own small directories, never a copy of the image.
  expect(layerKiB).toBeGreaterThan(500)
  expect(grown).toBeLessThan(layerKiB / 2)
  await a.remove({ force: true })
  await b.remove({ force: true })
})

test("a start of an image whose layers' short links (layers/l) exist makes none again; a link removed since is made again", async () => {
  await (await run('bb', ['true'], { runtime, network: 'none', rm: true })).wait()
  // The module object itself: lib reads its functions from it at each call (an import's copy is frozen).
  const nodeFs = require('node:fs') as typeof fs
  const symlink = jest.spyOn(nodeFs, 'symlinkSync')
  const links = path.join(runtime.root, 'layers', 'l')
  try {
    expect(await (await run('bb', ['true'], { runtime, network: 'none', rm: true })).wait()).toEqual({ exitCode: 0 })
    // Before: a symlink(2) per layer at every start, failing with EEXIST.
    expect(symlink.mock.calls.filter(([, p]) => path.dirname(String(p)) === links)).toEqual([])
    const [layerLink] = fs.readdirSync(links).filter((n) => !n.startsWith('init-'))
    const target = fs.readlinkSync(path.join(links, layerLink))
    fs.unlinkSync(path.join(links, layerLink))
    expect(await (await run('bb', ['true'], { runtime, network: 'none', rm: true })).wait()).toEqual({ exitCode: 0 })
    expect(fs.readlinkSync(path.join(links, layerLink))).toBe(target)
  } finally {
    symlink.mockRestore()
  }
})
