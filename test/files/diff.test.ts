// Overlay upper dir -> OCI layer tar, and applying layers back (flat and as overlay lowerdirs), on real overlay mounts.
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as tar from 'tar-stream'
import { Readable } from 'node:stream'
import { applyLayer, layerFromUpper } from '../../lib/files'
import { MNT_DETACH, mount, umount2 } from '../../lib/sys/libc'
import { Scratch, snapshot } from './helpers'

const scratch = new Scratch()
afterEach(() => scratch.cleanup((m) => umount2(m, MNT_DETACH)))

/** Tar keeps whole seconds (like Docker's archives): compare mtimes to the second. */
function secs(snap: ReturnType<typeof snapshot>) {
  return Object.fromEntries(Object.entries(snap).map(([k, v]) => [k, { ...v, mtimeNs: v.mtimeNs / 1_000_000_000n }]))
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of stream) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

async function names(buf: Buffer): Promise<string[]> {
  const ex = tar.extract()
  const out: string[] = []
  const done = (async () => {
    for await (const e of ex) {
      out.push(`${e.header.name}:${e.header.type}`)
      for await (const _ of e);
    }
  })()
  ex.write(buf)
  ;(ex as unknown as { end(): void }).end()
  await done
  return out
}

function overlay(lower: string, base: string): { upper: string; merged: string } {
  const upper = path.join(base, 'upper')
  const work = path.join(base, 'work')
  const merged = path.join(base, 'merged')
  for (const d of [upper, work, merged]) fs.mkdirSync(d)
  mount('overlay', merged, 'overlay', 0, `lowerdir=${lower},upperdir=${upper},workdir=${work}`)
  scratch.mounted(merged)
  return { upper, merged }
}

function lowerTree(dir: string): void {
  fs.mkdirSync(path.join(dir, 'd'), { recursive: true })
  fs.mkdirSync(path.join(dir, 'e'))
  fs.writeFileSync(path.join(dir, 'a'), 'a')
  fs.writeFileSync(path.join(dir, 'd', 'x'), 'x')
  fs.writeFileSync(path.join(dir, 'd', 'y'), 'y')
  fs.writeFileSync(path.join(dir, 'e', 'z'), 'z')
  fs.writeFileSync(path.join(dir, 'e', 'keep'), 'keep')
}

test('upper dir -> OCI layer (whiteouts, opaque dirs) -> applied onto the lower gives the merged view', async () => {
  const base = scratch.dir('mc-files-ovl-')
  const lower = path.join(base, 'lower')
  lowerTree(lower)
  const { upper, merged } = overlay(lower, base)
  fs.rmSync(path.join(merged, 'a'))
  fs.rmSync(path.join(merged, 'd'), { recursive: true })
  fs.mkdirSync(path.join(merged, 'd'))
  fs.writeFileSync(path.join(merged, 'd', 'new'), 'new')
  fs.writeFileSync(path.join(merged, 'e', 'z'), 'z2')
  fs.rmSync(path.join(merged, 'e', 'keep'))
  fs.writeFileSync(path.join(merged, 'n'), 'n')
  fs.symlinkSync('/etc/passwd', path.join(merged, 'l'))
  const want = snapshot(merged, { withDirTimes: false })

  const layer = await collect(layerFromUpper(upper))
  expect(await names(layer)).toEqual(['.wh.a:file', 'd/:directory', 'd/.wh..wh..opq:file', 'd/new:file', 'e/:directory', 'e/.wh.keep:file', 'e/z:file', 'l:symlink', 'n:file'])
  expect((await collect(layerFromUpper(upper))).equals(layer)).toBe(true) // reproducible

  // Flat: apply onto a copy of the lower layer.
  const flat = path.join(base, 'flat')
  lowerTree(flat)
  await applyLayer(flat, layer)
  expect(secs(snapshot(flat))).toEqual(secs(want))

  // Overlay: the layer as a new lowerdir above the old one.
  const layerDir = path.join(base, 'layer')
  fs.mkdirSync(layerDir)
  await applyLayer(layerDir, layer, { whiteouts: 'overlay' })
  const view = path.join(base, 'view')
  fs.mkdirSync(view)
  mount('overlay', view, 'overlay', 0, `lowerdir=${layerDir}:${lower}`)
  scratch.mounted(view)
  expect(secs(snapshot(view))).toEqual(secs(want))
})

test('applyLayer refuses escaping names and stays inside the directory through symlinks', async () => {
  const base = scratch.dir('mc-files-ovl-')
  const canary = scratch.dir('mc-canary-')
  fs.writeFileSync(path.join(canary, 'secret'), 'S')
  const dir = path.join(base, 'root')
  fs.mkdirSync(dir)
  fs.symlinkSync(canary, path.join(dir, 'out'))
  const mk = async (entries: { name: string; type?: 'file' | 'symlink'; linkname?: string }[]) => {
    const pack = tar.pack()
    for (const e of entries) pack.entry(e, e.type === 'symlink' ? '' : 'x')
    pack.finalize()
    return collect(Readable.from(pack))
  }
  await expect(applyLayer(dir, await mk([{ name: '../x' }]))).rejects.toMatchObject({ code: 'EUNSAFE' })
  await expect(applyLayer(dir, await mk([{ name: '/abs' }]))).rejects.toMatchObject({ code: 'EUNSAFE' })
  await applyLayer(dir, await mk([{ name: 'out/.wh.secret' }, { name: 'out/new' }])).catch(() => {})
  expect(fs.readdirSync(canary)).toEqual(['secret'])
})

test('applyLayer: a directory replaced mid-layer (by a symlink, by a whiteout) is resolved anew for the entries after it', async () => {
  const base = scratch.dir('mc-files-reparent-')
  const dir = path.join(base, 'root')
  fs.mkdirSync(dir)
  const pack = tar.pack()
  const entries: { name: string; type?: 'symlink' | 'directory'; linkname?: string }[] = [
    { name: 'd/f1' },
    { name: 'd', type: 'symlink', linkname: 'e' }, // the directory d (holding f1) becomes a link to e
    { name: 'e/', type: 'directory' },
    { name: 'd/f2' }, // through the link: e/f2
    { name: 'g/h/f3' },
    { name: 'g/.wh.h' }, // h goes, with f3
    { name: 'g/h/f4' }, // a new h
  ]
  for (const e of entries) pack.entry(e, e.type === 'symlink' || e.type === 'directory' ? '' : e.name)
  pack.finalize()
  await applyLayer(dir, await collect(Readable.from(pack)))
  expect(fs.readlinkSync(path.join(dir, 'd'))).toBe('e')
  expect(fs.readdirSync(path.join(dir, 'e'))).toEqual(['f2'])
  expect(fs.readFileSync(path.join(dir, 'e', 'f2'), 'utf8')).toBe('d/f2')
  expect(fs.readdirSync(path.join(dir, 'g', 'h'))).toEqual(['f4'])
})

/** Bytes (wchar) this process's main thread has written through write(2) and kin: per-thread I/O accounting. */
function mainThreadWritten(): number {
  return Number(/wchar: (\d+)/.exec(fs.readFileSync(`/proc/self/task/${process.pid}/io`, 'utf8'))![1])
}

test('applyLayer writes small files off the main thread, and every entry after them still sees them: duplicates, links, whiteouts, directory times', async () => {
  const dir = path.join(scratch.dir('mc-files-smallw-'), 'root')
  fs.mkdirSync(dir)
  const mtime = new Date('2001-02-03T04:05:06Z')
  const pack = tar.pack()
  const body = (name: string) => `${name}\n`.repeat(200)
  pack.entry({ name: 'd/', type: 'directory', mtime, mode: 0o750 })
  for (let i = 0; i < 300; i++) pack.entry({ name: `d/f${i}`, mode: 0o640, uid: 1000 + i, gid: 2000, mtime }, body(`f${i}`))
  pack.entry({ name: 'd/f7', mode: 0o600, mtime }, 'later wins') // a name in flight: written after the first f7
  pack.entry({ name: 'd/link', type: 'link', linkname: 'd/f8', mtime }) // to a file just written
  pack.entry({ name: 'd/.wh.f9', mtime }, '') // removes a file just written
  pack.entry({ name: 'e/g', mtime }, 'in another directory')
  pack.entry({ name: 'e/empty', mtime }, '')
  pack.finalize()
  const layer = await collect(Readable.from(pack))
  // Every small file written on the threadpool (all of them were written here before). Not near zero: the main
  // thread also flushes this jest worker's IPC to its parent meanwhile (76 KB was seen once under the full suite,
  // 211 KB once after a test file logging a soak's figures), so the least of three applies counts, each into a
  // root of its own: a main thread writing the files wrote them all three times.
  const fileBytes = 300 * body('f100').length
  let mainWrote = Infinity
  for (let attempt = 0; attempt < 3 && mainWrote >= fileBytes / 2; attempt++) {
    const into = attempt === 0 ? dir : path.join(scratch.dir('mc-files-smallw-'), 'root')
    fs.mkdirSync(into, { recursive: true })
    const before = mainThreadWritten()
    await applyLayer(into, layer)
    mainWrote = Math.min(mainWrote, mainThreadWritten() - before)
  }
  expect(mainWrote).toBeLessThan(fileBytes / 2)
  const d = path.join(dir, 'd')
  const st = fs.statSync(path.join(d, 'f123'))
  expect([fs.readFileSync(path.join(d, 'f123'), 'utf8'), st.mode & 0o7777, st.uid, st.gid, st.mtime.getTime()]).toEqual([body('f123'), 0o640, 1123, 2000, mtime.getTime()])
  expect(fs.readFileSync(path.join(d, 'f7'), 'utf8')).toBe('later wins')
  expect(fs.statSync(path.join(d, 'link')).ino).toBe(fs.statSync(path.join(d, 'f8')).ino)
  expect(fs.existsSync(path.join(d, 'f9'))).toBe(false)
  expect(fs.readdirSync(d)).toHaveLength(300 + 1 - 1) // f0..f299 and link, without f9
  expect([fs.readFileSync(path.join(dir, 'e', 'g'), 'utf8'), fs.statSync(path.join(dir, 'e', 'empty')).size]).toEqual(['in another directory', 0])
  // The directory's time and mode are set after the last file in it was written.
  expect([fs.statSync(d).mtime.getTime(), fs.statSync(d).mode & 0o7777]).toEqual([mtime.getTime(), 0o750])
})

test('applyLayer: a small file that cannot be written fails the layer, after the writes in flight are done', async () => {
  const dir = path.join(scratch.dir('mc-files-smallw-'), 'root')
  fs.mkdirSync(path.join(dir, 'd'), { recursive: true })
  const pack = tar.pack()
  for (let i = 0; i < 20; i++) pack.entry({ name: `d/f${i}` }, `f${i}`)
  pack.finalize()
  const layer = await collect(Readable.from(pack))
  fs.chmodSync(path.join(dir, 'd'), 0o500)
  // Root ignores the mode: an immutable directory refuses root too.
  const { execFileSync } = await import('node:child_process')
  execFileSync('chattr', ['+i', path.join(dir, 'd')])
  try {
    await expect(applyLayer(dir, layer)).rejects.toMatchObject({ code: 'ESYSCALL' })
  } finally {
    execFileSync('chattr', ['-i', path.join(dir, 'd')])
  }
  expect(fs.readdirSync(path.join(dir, 'd'))).toEqual([])
})
