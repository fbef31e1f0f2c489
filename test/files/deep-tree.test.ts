// Trees deeper than the fd limit and than PATH_MAX: copies, their failures and layers cost
// linear work and bounded fds (issue 17, points 6 and 7).
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as tar from 'tar-stream'
import { applyLayer, copyFrom, copyTo, layerFromUpper, putArchive } from '../../lib/files'
import { diskUsage } from '../../lib/files/disk-usage'
import { removeStaleScratch } from '../../lib/image/scratch'
import { Scratch, leftovers, snapshot } from './helpers'
import { countSyscalls } from '../tools/strace'

const scratch = new Scratch()
afterEach(() => {
  for (const d of deep.splice(0)) execFileSync('rm', ['-rf', d]) // node's rmSync recurses and overflows its stack
  scratch.cleanup(() => {})
})
const deep: string[] = []

/** A scratch dir whose tree may be deeper than node's fs can remove. */
function deepDir(prefix: string): string {
  const d = scratch.dir(prefix)
  deep.push(d)
  return d
}

/** Makes `dir`/d/d/.../d (`levels` dirs) with `leaf` at the bottom, in a child that chdirs down (paths stay short). */
function makeChain(dir: string, levels: number, leaf = `require('fs').writeFileSync('leaf', 'bottom\\n')`): void {
  execFileSync(process.execPath, ['-e', `process.chdir(${JSON.stringify(dir)}); for (let i = 0; i < ${levels}; i++) { require('fs').mkdirSync('d'); process.chdir('d') } ${leaf}`])
}

/** Directories below `dir` and the depth of `leaf`, counted by find (which walks any depth). */
function depthOf(dir: string): { dirs: number; leaf: string } {
  const dirs = execFileSync('find', [dir, '-mindepth', '1', '-type', 'd', '-printf', 'x']).length
  const leaf = execFileSync('find', [dir, '-name', 'leaf', '-printf', '%d %s']).toString()
  return { dirs, leaf }
}

/** Runs `fn` with this process's soft RLIMIT_NOFILE at `soft` (prlimit as the observer's tool), then puts it back. */
async function withFdLimit<T>(soft: number, fn: () => Promise<T>): Promise<T> {
  const [, hard] = execFileSync('prlimit', ['--pid', String(process.pid), '--nofile', '--raw', '--noheadings', '-o', 'SOFT,HARD']).toString().trim().split(/\s+/)
  const [oldSoft] = execFileSync('prlimit', ['--pid', String(process.pid), '--nofile', '--raw', '--noheadings', '-o', 'SOFT']).toString().trim().split(/\s+/)
  execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${soft}:${hard}`])
  try {
    return await fn()
  } finally {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${oldSoft}:${hard}`])
  }
}

test('copyTo: a 10,000-level host tree arrives complete under a soft fd limit of 1024', async () => {
  const src = deepDir('mc-deep-src-')
  const root = deepDir('mc-deep-root-')
  makeChain(src, 10_000)
  await withFdLimit(1024, () => copyTo(root, path.join(src, 'd'), '/d'))
  expect(depthOf(root)).toEqual({ dirs: 10_000, leaf: '10001 7' })
  expect(fs.readdirSync(root)).toEqual(['d'])
}, 120_000)

test('copyFrom: a failure at the bottom of a tree deeper than the fd limit leaves the destination exactly as it was', async () => {
  const root = deepDir('mc-deep-root-')
  const host = deepDir('mc-deep-host-')
  // A device node at the bottom: refused out of a container (EUNSAFE) once 3,000 levels are staged.
  makeChain(root, 3000, `require('fs').writeFileSync('leaf', 'x'); require('child_process').execFileSync('mknod', ['dev', 'c', '1', '3'])`)
  fs.mkdirSync(path.join(host, 'keep'))
  fs.writeFileSync(path.join(host, 'keep', 'f'), 'kept\n')
  const before = snapshot(host, { withDirTimes: true })
  await withFdLimit(1024, async () => {
    await expect(copyFrom(root, '/d', path.join(host, 'keep'))).rejects.toMatchObject({ code: 'EUNSAFE' })
    await expect(copyFrom(root, '/d', path.join(host, 'new'))).rejects.toMatchObject({ code: 'EUNSAFE' })
  })
  expect(leftovers(host)).toEqual([])
  expect(snapshot(host, { withDirTimes: true })).toEqual(before)
}, 120_000)

/** A layer tar of `levels` nested directories "d" (of `mode`) with a file "leaf" at the bottom. */
async function chainLayer(levels: number, mode = 0o755): Promise<Buffer> {
  const pack = tar.pack()
  let name = ''
  for (let i = 0; i < levels; i++) {
    name += 'd/'
    pack.entry({ name, type: 'directory', mode })
  }
  pack.entry({ name: `${name}leaf`, mode: 0o644 }, 'bottom\n')
  pack.finalize()
  const chunks: Buffer[] = []
  for await (const c of pack) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

test('applyLayer: a 1,000-level layer arrives complete', async () => {
  const dir = deepDir('mc-deep-layer-')
  await applyLayer(dir, await chainLayer(1000))
  expect(depthOf(dir)).toEqual({ dirs: 1000, leaf: '1001 7' })
})

test('applyLayer resolves each entry from the last one: opens grow linearly with depth, none from the root per entry', async () => {
  const levels = 300
  const layer = await chainLayer(levels)
  const dir = deepDir('mc-deep-layer-')
  // Through a symlink on the way (a lower layer's lib -> usr/lib), which is followed inside the dir.
  fs.mkdirSync(path.join(dir, 'real'))
  fs.symlinkSync('/real', path.join(dir, 'link'))
  const viaLink = tar.pack()
  viaLink.entry({ name: 'link/x/', type: 'directory', mode: 0o755 })
  viaLink.entry({ name: 'link/x/f', mode: 0o644 }, 'via link\n')
  viaLink.finalize()
  const counts = await countSyscalls(process.pid, ['openat', 'openat2'], async () => {
    await applyLayer(dir, layer)
    await applyLayer(dir, viaLink as unknown as NodeJS.ReadableStream as never)
  })
  expect(depthOf(path.join(dir, 'd'))).toEqual({ dirs: levels - 1, leaf: `${levels} 7` })
  expect(fs.readFileSync(path.join(dir, 'real/x/f'), 'utf8')).toBe('via link\n')
  // Before: every new parent was opened component by component from the layer's root, ~levels²/2 openat2.
  expect(counts.openat2).toBeLessThan(3 * levels)
  expect(counts.openat + counts.openat2).toBeLessThan(6 * levels)
})

// The deep-tree leftovers (issue 18): the walks that still held one fd per level, resolved
// whole paths per entry or per directory, or recursed.

test('layerFromUpper: a writable layer 3,000 levels deep becomes a complete layer under a soft fd limit of 1024', async () => {
  const upper = deepDir('mc-deep-upper-')
  makeChain(upper, 3000)
  const layer = await withFdLimit(1024, async () => {
    const chunks: Buffer[] = []
    for await (const c of layerFromUpper(upper)) chunks.push(c as Buffer)
    return Buffer.concat(chunks)
  })
  const dir = deepDir('mc-deep-applied-')
  await applyLayer(dir, layer)
  expect(depthOf(dir)).toEqual({ dirs: 3000, leaf: '3001 7' })
}, 120_000)

test('applyLayer: a layer whose paths are longer than 4,095 bytes arrives complete, directory modes set to the bottom', async () => {
  const levels = 2500 // "d/" x 2500: 5,000-byte paths
  const dir = deepDir('mc-deep-layer-')
  await applyLayer(dir, await chainLayer(levels, 0o750))
  expect(depthOf(dir)).toEqual({ dirs: levels, leaf: `${levels + 1} 7` })
  const modes = execFileSync('find', [dir, '-mindepth', '1', '-type', 'd', '-printf', '%m\\n']).toString().trim().split('\n')
  expect(new Set(modes)).toEqual(new Set(['750']))
}, 120_000)

test('putArchive resolves each entry from the last one: opens grow linearly with depth, none from the staging root per entry', async () => {
  const levels = 300
  const archive = await chainLayer(levels)
  const root = deepDir('mc-deep-root-')
  fs.mkdirSync(path.join(root, 'to'))
  const counts = await countSyscalls(process.pid, ['openat', 'openat2'], () => putArchive(root, '/to', archive))
  expect(depthOf(path.join(root, 'to'))).toEqual({ dirs: levels, leaf: `${levels + 1} 7` })
  // Before: each entry's parents were opened from the staging root, ~levels²/2 openat2.
  expect(counts.openat2).toBeLessThan(3 * levels)
  expect(counts.openat + counts.openat2).toBeLessThan(10 * levels)
})

test('putArchive merges a 3,000-level archive into an existing tree as deep under a soft fd limit of 1024', async () => {
  const root = deepDir('mc-deep-root-')
  makeChain(root, 3000, `require('fs').writeFileSync('old', 'kept\\n')`)
  const archive = await chainLayer(3000)
  await withFdLimit(1024, () => putArchive(root, '/', archive))
  expect(depthOf(root)).toEqual({ dirs: 3000, leaf: '3001 7' })
  const old = execFileSync('find', [root, '-name', 'old', '-printf', '%d %s']).toString()
  expect(old).toBe('3001 5')
}, 180_000)

test('diskUsage counts the files of a tree deeper than PATH_MAX', async () => {
  const dir = deepDir('mc-deep-usage-')
  makeChain(dir, 3000, `require('fs').writeFileSync('leaf', 'bottom\\n'); require('fs').symlinkSync('leaf', 'link')`)
  fs.writeFileSync(path.join(dir, 'top'), 'top\n')
  expect(await diskUsage(dir)).toBe(7 + 'leaf'.length + 4)
}, 120_000)

test('removeStaleScratch removes the scratch tree of a dead process deeper than PATH_MAX, named as today (pid, start time) or as before (pid alone)', async () => {
  const tmp = deepDir('mc-deep-scratch-')
  const dead = execFileSync(process.execPath, ['-e', 'console.log(process.pid)']).toString().trim()
  for (const name of [`${dead}-12345-0123456789abcdef`, `${dead}-0123456789abcdef`]) {
    const stale = path.join(tmp, name)
    fs.mkdirSync(stale)
    makeChain(stale, 3000)
  }
  // A live process's scratch, in both namings, stays.
  const live = [`${process.pid}-0123456789abcdef`]
  for (const name of live) fs.mkdirSync(path.join(tmp, name))
  removeStaleScratch(tmp)
  expect(fs.readdirSync(tmp)).toEqual(live)
}, 180_000)
