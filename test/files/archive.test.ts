// getArchive / putArchive / statPath against a plain directory as the container root.
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Readable } from 'node:stream'
import * as zlib from 'node:zlib'
import * as tar from 'tar-stream'
import { getArchive, putArchive, statPath } from '../../lib/files'
import { Scratch, info, leftovers, makeTree, snapshot } from './helpers'

const scratch = new Scratch()
afterEach(() => scratch.cleanup(() => {}))

interface Entry {
  name: string
  type: string
  mode: number
  uid: number
  gid: number
  linkname?: string | null
  body: string
  mtime: Date
}

async function entriesOf(stream: Readable): Promise<Entry[]> {
  const ex = tar.extract()
  const out: Entry[] = []
  const feeding = (async () => {
    for await (const chunk of stream) if (!ex.write(chunk)) await new Promise<void>((r) => ex.once('drain', () => r()))
    ;(ex as unknown as { end(): void }).end()
  })()
  for await (const e of ex) {
    const parts: Buffer[] = []
    for await (const c of e) parts.push(c as Buffer)
    const h = e.header
    out.push({ name: h.name, type: h.type, mode: h.mode, uid: h.uid, gid: h.gid, linkname: h.linkname, body: Buffer.concat(parts).toString('latin1'), mtime: h.mtime })
  }
  await feeding
  return out
}

type Spec = Partial<tar.Header> & { name: string; body?: string }

async function makeTar(entries: Spec[], gzip = false): Promise<Buffer> {
  const pack = tar.pack()
  for (const { body, ...h } of entries) pack.entry(h, body ?? '')
  pack.finalize()
  const chunks: Buffer[] = []
  for await (const c of pack) chunks.push(c as Buffer)
  const buf = Buffer.concat(chunks)
  return gzip ? zlib.gzipSync(buf) : buf
}

describe('statPath', () => {
  test('file, dir, symlink (linkTarget resolved inside the root), root, missing', async () => {
    const root = scratch.dir('mc-files-root-')
    fs.mkdirSync(path.join(root, 'etc'))
    fs.writeFileSync(path.join(root, 'etc', 'hosts'), '127.0.0.1 localhost\n')
    fs.chmodSync(path.join(root, 'etc', 'hosts'), 0o640)
    const when = new Date('2021-01-02T03:04:05.000Z')
    fs.utimesSync(path.join(root, 'etc', 'hosts'), when, when)
    fs.symlinkSync('../etc/./hosts', path.join(root, 'etc', 'h2'))
    fs.symlinkSync('/../../etc/h2', path.join(root, 'h3'))
    const f = await statPath(root, '/etc/hosts')
    expect(f).toEqual({ name: 'hosts', size: 20, mode: 0o100640, mtime: when, linkTarget: '' })
    expect((await statPath(root, 'etc')).mode & 0o170000).toBe(0o040000)
    expect(await statPath(root, '/h3')).toMatchObject({ name: 'h3', mode: expect.any(Number), linkTarget: '/etc/hosts' })
    expect(((await statPath(root, '/h3')).mode & 0o170000) === 0o120000).toBe(true)
    expect((await statPath(root, '/')).name).toBe('/')
    await expect(statPath(root, '/nope')).rejects.toMatchObject({ code: 'ENOTFOUND' })
    await expect(statPath(root, '/etc/hosts/x')).rejects.toMatchObject({ code: 'ENOTFOUND' })
  })
})

describe('getArchive', () => {
  test('a directory: top entry named after it, metadata, symlinks, hard links, fifo', async () => {
    const root = scratch.dir('mc-files-root-')
    makeTree(root, 't')
    const { stream, stat } = await getArchive(root, '/t')
    expect(stat).toMatchObject({ name: 't', linkTarget: '' })
    const entries = await entriesOf(stream)
    const byName = Object.fromEntries(entries.map((e) => [e.name, e]))
    expect(Object.keys(byName).sort()).toEqual(['t/', 't/abs', 't/empty/', 't/exec', 't/fifo', 't/file', 't/hard1', 't/link', 't/sub/', 't/sub/deep', 't/sub/hard2'])
    expect(byName['t/file']).toMatchObject({ type: 'file', mode: 0o640, uid: 1234, gid: 5678, body: 'hello file\n' })
    expect(byName['t/exec'].mode).toBe(0o4755)
    expect(byName['t/link']).toMatchObject({ type: 'symlink', linkname: 'file' })
    expect(byName['t/abs']).toMatchObject({ type: 'symlink', linkname: '/etc' })
    const hard = [byName['t/hard1'], byName['t/sub/hard2']]
    expect(hard.map((e) => e.type).sort()).toEqual(['file', 'link'])
    expect(hard.find((e) => e.type === 'link')!.linkname).toBe(hard.find((e) => e.type === 'file')!.name)
    expect(byName['t/fifo'].type).toBe('fifo')
    expect(byName['t/sub/deep'].body.length).toBe(100_000)
  })

  test('a file, a symlink (the link itself), and dir/. (contents)', async () => {
    const root = scratch.dir('mc-files-root-')
    makeTree(root, 't')
    let r = await getArchive(root, '/t/file')
    expect((await entriesOf(r.stream)).map((e) => [e.name, e.type, e.body])).toEqual([['file', 'file', 'hello file\n']])
    r = await getArchive(root, '/t/link')
    expect(r.stat.linkTarget).toBe('/t/file')
    expect((await entriesOf(r.stream)).map((e) => [e.name, e.type, e.linkname])).toEqual([['link', 'symlink', 'file']])
    r = await getArchive(root, '/t/sub/.')
    expect((await entriesOf(r.stream)).map((e) => e.name).sort()).toEqual(['deep', 'hard2'])
    await expect(getArchive(root, '/t/missing')).rejects.toMatchObject({ code: 'ENOTFOUND' })
  })
})

describe('putArchive', () => {
  test('extracts files, dirs, symlinks, hard links, fifos with metadata', async () => {
    const root = scratch.dir('mc-files-root-')
    fs.mkdirSync(path.join(root, 'dst'))
    const when = new Date('2019-05-06T07:08:09.000Z')
    const buf = await makeTar([
      { name: 'd/', type: 'directory', mode: 0o750, uid: 7, gid: 8, mtime: when },
      { name: 'd/f', body: 'F', mode: 0o4711, uid: 11, gid: 12, mtime: when },
      { name: 'd/l', type: 'symlink', linkname: '/etc/passwd', mtime: when },
      { name: 'd/h', type: 'link', linkname: 'd/f' },
      { name: 'implicit/deeper/g', body: 'G' },
      { name: './dot', body: 'D' },
      { name: 'p', type: 'fifo', mode: 0o600 },
    ])
    await putArchive(root, '/dst', buf)
    const d = path.join(root, 'dst')
    expect(info(path.join(d, 'd'))).toMatchObject({ type: 'dir', mode: 0o750, uid: 7, gid: 8, mtimeNs: BigInt(when.getTime()) * 1_000_000n })
    expect(info(path.join(d, 'd', 'f'))).toMatchObject({ type: 'file', mode: 0o4711, uid: 11, gid: 12 })
    expect(info(path.join(d, 'd', 'l'))).toMatchObject({ type: 'symlink', link: '/etc/passwd' })
    expect(info(path.join(d, 'd', 'h')).ino).toBe(info(path.join(d, 'd', 'f')).ino)
    expect(fs.readFileSync(path.join(d, 'implicit', 'deeper', 'g'), 'utf8')).toBe('G')
    expect(fs.readFileSync(path.join(d, 'dot'), 'utf8')).toBe('D')
    expect(info(path.join(d, 'p')).type).toBe('fifo')
    expect(leftovers(root)).toEqual([])
  })

  test('merges into existing dirs, replaces files; gzip input; Readable input', async () => {
    const root = scratch.dir('mc-files-root-')
    fs.mkdirSync(path.join(root, 'dst', 'd'), { recursive: true })
    fs.writeFileSync(path.join(root, 'dst', 'd', 'keep'), 'K')
    fs.writeFileSync(path.join(root, 'dst', 'd', 'f'), 'old')
    const gz = await makeTar([{ name: 'd/f', body: 'new' }, { name: 'd/n', body: 'N' }], true)
    await putArchive(root, '/dst', Readable.from([gz.subarray(0, 10), gz.subarray(10)]))
    expect(fs.readdirSync(path.join(root, 'dst', 'd')).sort()).toEqual(['f', 'keep', 'n'])
    expect(fs.readFileSync(path.join(root, 'dst', 'd', 'f'), 'utf8')).toBe('new')
  })

  test('implied dirs follow existing symlinks inside the root (lib -> usr/lib); archive dirs replace them', async () => {
    const root = scratch.dir('mc-files-root-')
    fs.mkdirSync(path.join(root, 'usr', 'lib'), { recursive: true })
    fs.symlinkSync('usr/lib', path.join(root, 'lib'))
    fs.symlinkSync('/usr/lib', path.join(root, 'lib2'))
    await putArchive(root, '/', await makeTar([{ name: 'lib/x.so', body: 'X' }, { name: 'lib2/y.so', body: 'Y' }]))
    expect(fs.readFileSync(path.join(root, 'usr', 'lib', 'x.so'), 'utf8')).toBe('X')
    expect(fs.readFileSync(path.join(root, 'usr', 'lib', 'y.so'), 'utf8')).toBe('Y')
    expect(fs.lstatSync(path.join(root, 'lib')).isSymbolicLink()).toBe(true)
  })

  test('noOverwriteDirNonDir refuses dir/non-dir replacement; default replaces', async () => {
    const root = scratch.dir('mc-files-root-')
    fs.mkdirSync(path.join(root, 'dst', 'x'), { recursive: true })
    const buf = await makeTar([{ name: 'x', body: 'file now' }])
    await expect(putArchive(root, '/dst', buf, { noOverwriteDirNonDir: true })).rejects.toMatchObject({ code: 'EEXIST' })
    expect(fs.statSync(path.join(root, 'dst', 'x')).isDirectory()).toBe(true)
    await putArchive(root, '/dst', buf)
    expect(fs.readFileSync(path.join(root, 'dst', 'x'), 'utf8')).toBe('file now')
  })

  test('a missing target dir is ENOTFOUND, a file target ENOTDIR', async () => {
    const root = scratch.dir('mc-files-root-')
    fs.writeFileSync(path.join(root, 'f'), '')
    const buf = await makeTar([{ name: 'a', body: 'A' }])
    await expect(putArchive(root, '/nope', buf)).rejects.toMatchObject({ code: 'ENOTFOUND' })
    await expect(putArchive(root, '/f', buf)).rejects.toMatchObject({ code: 'ENOTDIR' })
  })

  test.each([
    ['a .. entry', [{ name: 'ok', body: 'x' }, { name: '../escape', body: 'x' }]],
    ['a nested .. entry', [{ name: 'a/../../escape', body: 'x' }]],
    ['an absolute entry', [{ name: '/etc/passwd', body: 'x' }]],
    ['a char device', [{ name: 'null', type: 'character-device', devmajor: 1, devminor: 3 }]],
    ['a block device', [{ name: 'sda', type: 'block-device', devmajor: 8, devminor: 0 }]],
    ['a hard link out', [{ name: 'h', type: 'link', linkname: '../../etc/passwd' }]],
    ['an absolute hard link', [{ name: 'h', type: 'link', linkname: '/etc/passwd' }]],
    ['a hard link to a non-entry', [{ name: 'h', type: 'link', linkname: 'etc/passwd' }]],
    ['a file through an archive symlink', [{ name: 'esc', type: 'symlink', linkname: '/' }, { name: 'esc/tmp/pwned', body: 'x' }]],
  ] as [string, Spec[]][])('rejects %s with EUNSAFE and leaves the target untouched', async (_what, entries) => {
    const root = scratch.dir('mc-files-root-')
    fs.mkdirSync(path.join(root, 'dst'))
    fs.writeFileSync(path.join(root, 'dst', 'keep'), 'K')
    fs.mkdirSync(path.join(root, 'etc'))
    fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0')
    const before = snapshot(root, { withDirTimes: true })
    await expect(putArchive(root, '/dst', await makeTar(entries))).rejects.toMatchObject({ code: 'EUNSAFE' })
    expect(snapshot(root, { withDirTimes: true })).toEqual(before)
    expect(leftovers(root)).toEqual([])
  })

  test('a truncated stream fails and leaves the target untouched', async () => {
    const root = scratch.dir('mc-files-root-')
    fs.mkdirSync(path.join(root, 'dst'))
    const buf = await makeTar([{ name: 'a', body: 'A'.repeat(5000) }, { name: 'b', body: 'B'.repeat(5000) }])
    const before = snapshot(root, { withDirTimes: true })
    await expect(putArchive(root, '/dst', buf.subarray(0, 3000))).rejects.toThrow()
    expect(snapshot(root, { withDirTimes: true })).toEqual(before)
  })

  test('round trip: getArchive of a tree, putArchive elsewhere, same tree', async () => {
    const root = scratch.dir('mc-files-root-')
    makeTree(root, 't')
    fs.mkdirSync(path.join(root, 'copy'))
    const { stream } = await getArchive(root, '/t')
    await putArchive(root, '/copy', stream)
    const want = snapshot(path.join(root, 't'))
    const got = snapshot(path.join(root, 'copy', 't'))
    // tar keeps mtimes to the second (ustar) or better (pax); compare the rest exactly
    for (const k of Object.keys(want)) {
      expect({ ...got[k], mtimeNs: 0n }).toEqual({ ...want[k], mtimeNs: 0n })
      expect(got[k].mtimeNs / 1_000_000_000n).toBe(want[k].mtimeNs / 1_000_000_000n)
    }
    expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort())
  })
})

describe('names that are not UTF-8 stay bytes', () => {
  const raw = Buffer.from([0xff, 0xfe])
  const utf8 = Buffer.from('h\u00e9llo')

  /** Names of a directory's entries as hex of their bytes, sorted. */
  const hexNames = (dir: string) => fs.readdirSync(dir, { encoding: 'buffer' }).map((n) => n.toString('hex')).sort()

  /** A source tree: a file named ff fe, one named "héllo", and a symlink named "link" to ff fe. */
  function source(): string {
    const src = scratch.dir('mc-files-src-')
    fs.writeFileSync(Buffer.concat([Buffer.from(`${src}/`), raw]), 'raw\n')
    fs.writeFileSync(Buffer.concat([Buffer.from(`${src}/`), utf8]), 'utf8\n')
    fs.symlinkSync(raw, `${src}/link`)
    return src
  }

  /** What Python's tarfile reads from a tar: each member's name and link target as hex of its bytes. */
  function pythonNames(tarBytes: Buffer): string[] {
    const script = 'import os, sys, tarfile\nfor m in tarfile.open(fileobj=sys.stdin.buffer, mode="r|"):\n  print(os.fsencode(m.name).hex() + ">" + os.fsencode(m.linkname).hex())'
    return execFileSync('python3', ['-c', script], { input: tarBytes }).toString().trim().split('\n').sort()
  }

  test.each([
    ['GNU tar (raw bytes in the header)', (src: string) => execFileSync('tar', ['-C', src, '-cf', '-', '.'])],
    ['Python tarfile, PAX (path records)', (src: string) => execFileSync('python3', ['-c', 'import sys, tarfile\nt = tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.PAX_FORMAT)\nt.add(sys.argv[1], arcname=".")\nt.close()', src])],
  ])('%s: putArchive makes the same names, getArchive gives them back byte for byte', async (_how, tarOf) => {
    const src = source()
    const root = scratch.dir('mc-files-root-')
    fs.mkdirSync(path.join(root, 'dst'))
    await putArchive(root, '/dst', tarOf(src))
    expect(hexNames(path.join(root, 'dst'))).toEqual(hexNames(src))
    expect(fs.readlinkSync(path.join(root, 'dst', 'link'), { encoding: 'buffer' })).toEqual(raw)
    expect(fs.readFileSync(Buffer.concat([Buffer.from(`${root}/dst/`), raw]), 'utf8')).toBe('raw\n')
    const { stream } = await getArchive(root, '/dst/.')
    const chunks: Buffer[] = []
    for await (const c of stream) chunks.push(c as Buffer)
    // Python's tarfile reads back the bytes that are on disk: ff fe, "héllo", and "link" to ff fe.
    expect(pythonNames(Buffer.concat(chunks))).toEqual([`${utf8.toString('hex')}>`, `${Buffer.from('link').toString('hex')}>fffe`, 'fffe>'].sort())
  })
})

test('a reader that stops early does not leak fds', async () => {
  const root = scratch.dir('mc-files-root-')
  fs.mkdirSync(path.join(root, 'big'))
  for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(root, 'big', `f${i}`), Buffer.alloc(200_000, i))
  const fds = () => fs.readdirSync('/proc/self/fd').length
  const before = fds()
  for (let i = 0; i < 5; i++) {
    const { stream } = await getArchive(root, '/big')
    for await (const _ of stream) break // destroys the stream after the first chunk
  }
  await new Promise((r) => setTimeout(r, 100))
  expect(fds()).toBeLessThanOrEqual(before)
})

test('a refused archive stops reading the caller\'s stream', async () => {
  const root = scratch.dir('mc-files-root-')
  fs.mkdirSync(path.join(root, 'dst'))
  const bad = await makeTar([{ name: '../escape', body: 'x' }])
  let produced = 0
  const endless = new Readable({
    read() {
      produced++
      this.push(produced === 1 ? bad.subarray(0, 1024) : Buffer.alloc(64 * 1024))
    },
  })
  await expect(putArchive(root, '/dst', endless)).rejects.toMatchObject({ code: 'EUNSAFE' })
  await new Promise((r) => setTimeout(r, 50))
  expect(endless.destroyed).toBe(true)
})
