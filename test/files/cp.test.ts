// docker cp rules, metadata and atomicity, in both directions, against a plain directory as the container root.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { copyFrom, copyTo, type CopyOptions } from '../../lib/files'
import { umount2, MNT_DETACH } from '../../lib/sys/libc'
import { Scratch, info, leftovers, makeTree, md5, snapshot } from './helpers'

const scratch = new Scratch()
afterEach(() => scratch.cleanup((m) => umount2(m, MNT_DETACH)))

interface Dir {
  name: 'in' | 'out'
  /** Host dir holding the source tree. */
  src: string
  /** Host dir where results land. */
  dst: string
  /** Runs docker cp with source/dest relative to src/dst. */
  cp(srcRel: string, dstRel: string, opts?: CopyOptions): Promise<void>
}

/** copyTo: source on the host, dest in the container; copyFrom: the reverse. */
function setup(direction: 'in' | 'out'): Dir {
  const host = scratch.dir('mc-files-host-')
  const root = scratch.dir('mc-files-root-')
  if (direction === 'in')
    return { name: 'in', src: host, dst: root, cp: (s, d, o) => copyTo(root, path.join(host, s) + (s.endsWith('/') && !s.endsWith('/.') ? '/' : s.endsWith('/.') ? '/.' : ''), d, o) }
  return { name: 'out', src: root, dst: host, cp: (s, d, o) => copyFrom(root, s, path.join(host, d) + (d.endsWith('/') ? '/' : ''), o) }
}

describe.each(['in', 'out'] as const)('docker cp rules (%s)', (direction) => {
  test('file -> missing dest: created with the content', async () => {
    const d = setup(direction)
    fs.writeFileSync(path.join(d.src, 'a.txt'), 'AAA')
    await d.cp('a.txt', 'b.txt')
    expect(fs.readFileSync(path.join(d.dst, 'b.txt'), 'utf8')).toBe('AAA')
    expect(leftovers(d.dst)).toEqual([])
  })

  test('file -> missing dest whose parent is missing: ENOTDIR dest-parent-missing', async () => {
    const d = setup(direction)
    fs.writeFileSync(path.join(d.src, 'a.txt'), 'AAA')
    await expect(d.cp('a.txt', 'nope/b.txt')).rejects.toMatchObject({ code: 'ENOTDIR', reason: 'dest-parent-missing' })
    expect(fs.existsSync(path.join(d.dst, 'nope'))).toBe(false)
  })

  test('file -> missing dest ending in /: ENOTDIR dest-dir-missing', async () => {
    const d = setup(direction)
    fs.writeFileSync(path.join(d.src, 'a.txt'), 'AAA')
    await expect(d.cp('a.txt', 'newdir/')).rejects.toMatchObject({ code: 'ENOTDIR', reason: 'dest-dir-missing' })
    expect(fs.readdirSync(d.dst)).toEqual([])
  })

  test('file -> existing file: content replaced', async () => {
    const d = setup(direction)
    fs.writeFileSync(path.join(d.src, 'a.txt'), 'NEW')
    fs.writeFileSync(path.join(d.dst, 'b.txt'), 'OLD CONTENT')
    await d.cp('a.txt', 'b.txt')
    expect(fs.readFileSync(path.join(d.dst, 'b.txt'), 'utf8')).toBe('NEW')
    expect(fs.readdirSync(d.dst)).toEqual(['b.txt'])
  })

  test('file -> existing file with a trailing /: ENOTDIR dest-not-dir', async () => {
    const d = setup(direction)
    fs.writeFileSync(path.join(d.src, 'a.txt'), 'NEW')
    fs.writeFileSync(path.join(d.dst, 'b.txt'), 'OLD')
    await expect(d.cp('a.txt', 'b.txt/')).rejects.toMatchObject({ code: 'ENOTDIR', reason: 'dest-not-dir' })
    expect(fs.readFileSync(path.join(d.dst, 'b.txt'), 'utf8')).toBe('OLD')
  })

  test('file -> existing dir: copied into it under its own name', async () => {
    const d = setup(direction)
    fs.writeFileSync(path.join(d.src, 'a.txt'), 'AAA')
    fs.mkdirSync(path.join(d.dst, 'dir'))
    await d.cp('a.txt', 'dir')
    expect(fs.readFileSync(path.join(d.dst, 'dir', 'a.txt'), 'utf8')).toBe('AAA')
    await d.cp('a.txt', 'dir/')
    expect(fs.readdirSync(path.join(d.dst, 'dir'))).toEqual(['a.txt'])
  })

  test('dir -> missing dest: created with the contents', async () => {
    const d = setup(direction)
    makeTree(d.src, 't')
    await d.cp('t', 'copy')
    expect(snapshot(path.join(d.dst, 'copy'))).toEqual(snapshot(path.join(d.src, 't')))
    expect(fs.readdirSync(d.dst)).toEqual(['copy'])
  })

  test('dir -> missing dest ending in /: created too', async () => {
    const d = setup(direction)
    makeTree(d.src, 't')
    await d.cp('t', 'copy/')
    expect(snapshot(path.join(d.dst, 'copy'))).toEqual(snapshot(path.join(d.src, 't')))
  })

  test('dir -> dest whose parent is missing: ENOTDIR dest-parent-missing', async () => {
    const d = setup(direction)
    makeTree(d.src, 't')
    await expect(d.cp('t', 'a/b')).rejects.toMatchObject({ code: 'ENOTDIR', reason: 'dest-parent-missing' })
    expect(fs.readdirSync(d.dst)).toEqual([])
  })

  test('dir -> existing file: EISDIR dir-onto-file', async () => {
    const d = setup(direction)
    makeTree(d.src, 't')
    fs.writeFileSync(path.join(d.dst, 'f'), 'keep')
    await expect(d.cp('t', 'f')).rejects.toMatchObject({ code: 'EISDIR', reason: 'dir-onto-file' })
    expect(fs.readFileSync(path.join(d.dst, 'f'), 'utf8')).toBe('keep')
    expect(fs.readdirSync(d.dst)).toEqual(['f'])
  })

  test('dir -> existing dir: the dir itself is copied into it', async () => {
    const d = setup(direction)
    makeTree(d.src, 't')
    fs.mkdirSync(path.join(d.dst, 'dest'))
    fs.writeFileSync(path.join(d.dst, 'dest', 'other'), 'x')
    await d.cp('t', 'dest')
    expect(fs.readdirSync(path.join(d.dst, 'dest')).sort()).toEqual(['other', 't'])
    expect(snapshot(path.join(d.dst, 'dest', 't'))).toEqual(snapshot(path.join(d.src, 't')))
  })

  test('dir/. -> existing dir: its contents are copied into it', async () => {
    const d = setup(direction)
    makeTree(d.src, 't')
    fs.mkdirSync(path.join(d.dst, 'dest'))
    fs.writeFileSync(path.join(d.dst, 'dest', 'other'), 'x')
    await d.cp('t/.', 'dest')
    const want: Record<string, unknown> = { ...snapshot(path.join(d.src, 't')), other: info(path.join(d.dst, 'dest', 'other')) }
    const got = snapshot(path.join(d.dst, 'dest'))
    expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort())
    for (const k of Object.keys(snapshot(path.join(d.src, 't')))) expect(got[k]).toEqual(want[k])
  })

  test('dir/. -> missing dest: created with the contents', async () => {
    const d = setup(direction)
    makeTree(d.src, 't')
    await d.cp('t/.', 'fresh')
    expect(snapshot(path.join(d.dst, 'fresh'))).toEqual(snapshot(path.join(d.src, 't')))
  })

  test('dir -> existing dir holding a dir of that name: merged, existing files replaced, others kept', async () => {
    const d = setup(direction)
    makeTree(d.src, 't')
    fs.mkdirSync(path.join(d.dst, 'dest', 't', 'sub'), { recursive: true })
    fs.writeFileSync(path.join(d.dst, 'dest', 't', 'file'), 'old version')
    fs.writeFileSync(path.join(d.dst, 'dest', 't', 'sub', 'mine'), 'kept')
    fs.writeFileSync(path.join(d.dst, 'dest', 't', 'empty'), 'a file where the source has a dir')
    await d.cp('t', 'dest')
    expect(fs.readFileSync(path.join(d.dst, 'dest', 't', 'file'), 'utf8')).toBe('hello file\n')
    expect(fs.readFileSync(path.join(d.dst, 'dest', 't', 'sub', 'mine'), 'utf8')).toBe('kept')
    expect(fs.statSync(path.join(d.dst, 'dest', 't', 'empty')).isDirectory()).toBe(true)
    expect(info(path.join(d.dst, 'dest', 't', 'sub', 'deep')).md5).toBe(md5(path.join(d.src, 't', 'sub', 'deep')))
    expect(leftovers(d.dst)).toEqual([])
  })

  test('missing source: ENOTFOUND', async () => {
    const d = setup(direction)
    await expect(d.cp('ghost', 'x')).rejects.toMatchObject({ code: 'ENOTFOUND', reason: 'source-missing' })
  })

  test('file source ending in / or /.: ENOTDIR source-not-dir', async () => {
    const d = setup(direction)
    fs.writeFileSync(path.join(d.src, 'a.txt'), 'AAA')
    await expect(d.cp('a.txt/', 'x')).rejects.toMatchObject({ code: 'ENOTDIR' })
    await expect(d.cp('a.txt/.', 'x')).rejects.toMatchObject({ code: 'ENOTDIR' })
    expect(fs.readdirSync(d.dst)).toEqual([])
  })

  test('metadata: modes (setuid), ns mtimes, uid/gid, symlinks, hard links, empty dirs, FIFOs', async () => {
    const d = setup(direction)
    const t = makeTree(d.src, 't')
    await d.cp('t', 'c')
    const c = path.join(d.dst, 'c')
    expect(snapshot(c, { withDirTimes: true })).toEqual(snapshot(t, { withDirTimes: true }))
    expect(info(path.join(c, 'file'))).toMatchObject({ mode: 0o640, uid: 1234, gid: 5678 })
    expect(info(path.join(c, 'exec')).mode).toBe(0o4755)
    expect(info(path.join(c, 'link'))).toMatchObject({ type: 'symlink', link: 'file', uid: 4321, gid: 8765 })
    expect(info(path.join(c, 'abs'))).toMatchObject({ type: 'symlink', link: '/etc' })
    expect(info(path.join(c, 'empty'))).toMatchObject({ type: 'dir', mode: 0o700 })
    expect(fs.readdirSync(path.join(c, 'empty'))).toEqual([])
    expect(info(path.join(c, 'fifo')).type).toBe('fifo')
    expect(info(path.join(c, 'hard1')).ino).toBe(info(path.join(c, 'sub', 'hard2')).ino)
    expect(info(path.join(c, 'hard1')).nlink).toBe(2)
    expect(info(path.join(c, 'file')).mtimeNs).toBe(info(path.join(t, 'file')).mtimeNs)
  })

  test('a symlink source is copied as a link; followLink copies its target under the link name', async () => {
    const d = setup(direction)
    fs.writeFileSync(path.join(d.src, 'real'), 'REAL')
    fs.symlinkSync('real', path.join(d.src, 'ln'))
    fs.mkdirSync(path.join(d.src, 'realdir'))
    fs.writeFileSync(path.join(d.src, 'realdir', 'x'), 'X')
    fs.symlinkSync('realdir', path.join(d.src, 'lndir'))
    await d.cp('ln', 'plain')
    expect(info(path.join(d.dst, 'plain'))).toMatchObject({ type: 'symlink', link: 'real' })
    await d.cp('ln', 'followed', { followLink: true })
    expect(info(path.join(d.dst, 'followed'))).toMatchObject({ type: 'file', md5: md5(path.join(d.src, 'real')) })
    fs.mkdirSync(path.join(d.dst, 'into'))
    await d.cp('lndir', 'into', { followLink: true })
    expect(fs.readFileSync(path.join(d.dst, 'into', 'lndir', 'x'), 'utf8')).toBe('X')
    await d.cp('lndir/', 'slash')
    expect(fs.readFileSync(path.join(d.dst, 'slash', 'x'), 'utf8')).toBe('X')
  })

  test('abort mid-copy leaves the destination as it was', async () => {
    const d = setup(direction)
    fs.mkdirSync(path.join(d.src, 'many'))
    for (let i = 0; i < 2000; i++) fs.writeFileSync(path.join(d.src, 'many', `f${i}`), `${i}`)
    fs.mkdirSync(path.join(d.dst, 'dest'))
    fs.writeFileSync(path.join(d.dst, 'dest', 'keep'), 'k')
    const before = snapshot(d.dst, { withDirTimes: true })
    const ac = new AbortController()
    const copying = d.cp('many', 'dest', { signal: ac.signal })
    setImmediate(() => ac.abort())
    await expect(copying).rejects.toThrow()
    expect(snapshot(d.dst, { withDirTimes: true })).toEqual(before)
    expect(leftovers(d.dst)).toEqual([])
  })

  test('sparse files keep their holes (sync and async paths, trailing hole)', async () => {
    const d = setup(direction)
    for (const [name, size] of [['small', 3 << 20], ['large', 80 << 20]] as const) {
      const fd = fs.openSync(path.join(d.src, name), 'w')
      fs.writeSync(fd, 'start')
      fs.writeSync(fd, Buffer.alloc(4096, 7), 0, 4096, Math.floor(size / 2))
      fs.ftruncateSync(fd, size)
      fs.closeSync(fd)
      await d.cp(name, `${name}2`)
      const st = fs.statSync(path.join(d.dst, `${name}2`))
      expect(st.size).toBe(size)
      expect(st.blocks * 512).toBeLessThan(1 << 20)
      expect(md5(path.join(d.dst, `${name}2`))).toBe(md5(path.join(d.src, name)))
    }
  })

  test('names that are not valid UTF-8 are copied byte for byte', async () => {
    const d = setup(direction)
    fs.mkdirSync(path.join(d.src, 'odd'))
    const raw = Buffer.from([0x6e, 0xff, 0xfe, 0x2e, 0x74])
    fs.writeFileSync(Buffer.concat([Buffer.from(path.join(d.src, 'odd') + '/'), raw]), 'bytes')
    fs.mkdirSync(Buffer.concat([Buffer.from(path.join(d.src, 'odd') + '/'), raw, Buffer.from('-dir')]))
    await d.cp('odd', 'odd2')
    const names = fs.readdirSync(path.join(d.dst, 'odd2'), { encoding: 'buffer' }).map((b) => b.toString('hex')).sort()
    expect(names).toEqual([raw.toString('hex'), Buffer.concat([raw, Buffer.from('-dir')]).toString('hex')].sort())
    expect(fs.readFileSync(Buffer.concat([Buffer.from(path.join(d.dst, 'odd2') + '/'), raw]), 'utf8')).toBe('bytes')
  })

  test('abort during a large file copy (worker-thread chunks) leaves nothing behind', async () => {
    const d = setup(direction)
    const fd = fs.openSync(path.join(d.src, 'big'), 'w')
    const buf = Buffer.alloc(1 << 20, 1)
    for (let i = 0; i < 160; i++) fs.writeSync(fd, buf)
    fs.closeSync(fd)
    fs.writeFileSync(path.join(d.dst, 'big2'), 'previous')
    const before = snapshot(d.dst, { withDirTimes: true })
    const ac = new AbortController()
    const copying = d.cp('big', 'big2', { signal: ac.signal })
    setTimeout(() => ac.abort(), 5)
    await expect(copying).rejects.toThrow()
    expect(snapshot(d.dst, { withDirTimes: true })).toEqual(before)
  })

  test('md5 round trip of a 20 MB file (async chunked path)', async () => {
    const d = setup(direction)
    const buf = Buffer.alloc(20 << 20)
    for (let i = 0; i < buf.length; i += 4096) buf.writeUInt32LE((i * 2654435761) >>> 0, i)
    fs.writeFileSync(path.join(d.src, 'big'), buf)
    await d.cp('big', 'big2')
    expect(md5(path.join(d.dst, 'big2'))).toBe(md5(path.join(d.src, 'big')))
  })
})

test('seed 000: a.txt into the container and back out as b.txt has an equal md5', async () => {
  const host = scratch.dir('mc-files-host-')
  const root = scratch.dir('mc-files-root-')
  fs.writeFileSync(path.join(host, 'a.txt'), `hello from the host ${Math.random()}\n`.repeat(1000))
  await copyTo(root, path.join(host, 'a.txt'), '/a.txt')
  await copyFrom(root, '/a.txt', path.join(host, 'b.txt'))
  expect(md5(path.join(host, 'b.txt'))).toBe(md5(path.join(host, 'a.txt')))
})

test('copyFrom refuses device nodes (EUNSAFE) and leaves the host destination untouched', async () => {
  const host = scratch.dir('mc-files-host-')
  const root = scratch.dir('mc-files-root-')
  fs.mkdirSync(path.join(root, 'd'))
  fs.writeFileSync(path.join(root, 'd', 'a'), 'a')
  const { mknodat, S_IFCHR } = await import('../../lib/sys/fsops')
  mknodat(-100, path.join(root, 'd', 'zz-null'), S_IFCHR | 0o666, 1, 3)
  await expect(copyFrom(root, '/d', path.join(host, 'out'))).rejects.toMatchObject({ code: 'EUNSAFE' })
  expect(fs.readdirSync(host)).toEqual([])
})

test('copyTo recreates device nodes from the host', async () => {
  const host = scratch.dir('mc-files-host-')
  const root = scratch.dir('mc-files-root-')
  const { mknodat, S_IFCHR } = await import('../../lib/sys/fsops')
  mknodat(-100, path.join(host, 'null'), S_IFCHR | 0o666, 1, 3)
  await copyTo(root, path.join(host, 'null'), '/null')
  const st = fs.lstatSync(path.join(root, 'null'))
  expect(st.isCharacterDevice()).toBe(true)
  expect(st.rdev).toBe(fs.lstatSync(path.join(host, 'null')).rdev)
})

test('relative container paths are relative to the container root; the root itself copies its contents', async () => {
  const host = scratch.dir('mc-files-host-')
  const root = scratch.dir('mc-files-root-')
  fs.writeFileSync(path.join(host, 'a'), 'A')
  await copyTo(root, path.join(host, 'a'), 'rel-a')
  expect(fs.readFileSync(path.join(root, 'rel-a'), 'utf8')).toBe('A')
  fs.mkdirSync(path.join(host, 'whole'))
  await copyFrom(root, '/', path.join(host, 'whole'))
  expect(fs.readdirSync(path.join(host, 'whole'))).toEqual(['rel-a'])
})

test('copying a directory into itself does not recurse into the copy', async () => {
  const host = scratch.dir('mc-files-host-')
  const root = path.join(host, 'root')
  fs.mkdirSync(root)
  fs.writeFileSync(path.join(host, 'f'), 'F')
  await copyTo(root, host, '/')
  expect(fs.readdirSync(path.join(root)).sort()).toEqual([path.basename(host)])
  expect(fs.readdirSync(path.join(root, path.basename(host))).sort()).toEqual(['f', 'root'])
  expect(fs.readdirSync(path.join(root, path.basename(host), 'root'))).toEqual([])
})
