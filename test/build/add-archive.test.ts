/**
 * ADD of local archives: a tar, plain or gzip-compressed, is extracted into
 * the destination (owners, modes, links as archived; `--chown` wins), a
 * .gz that holds no tar is copied as it is, entries named with `..` stay
 * below the destination, and bzip2/xz archives are EUNSUPPORTED.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as zlib from 'node:zlib'
import * as tar from 'tar-stream'
import { Image, type Runtime } from '../../lib'
import { runOutput, useRuntime } from '../helpers'

jest.setTimeout(120_000)

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { busybox: true, hostImage: false })

let ctx: string
beforeAll(async () => {
  ctx = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-build-add-'))
  const pack = tar.pack()
  const mtime = new Date('2023-05-06T07:08:09Z')
  pack.entry({ name: 'dir/', type: 'directory', mode: 0o750, uid: 1000, gid: 1000, mtime })
  pack.entry({ name: 'dir/a.txt', mode: 0o640, uid: 1000, gid: 1000, mtime }, 'archived a\n')
  pack.entry({ name: 'dir/link', type: 'symlink', linkname: 'a.txt', mtime })
  pack.entry({ name: 'dir/hard', type: 'link', linkname: 'dir/a.txt', mtime })
  pack.entry({ name: '../../escape.txt', mode: 0o644, mtime }, 'kept inside\n')
  pack.finalize()
  const chunks: Buffer[] = []
  for await (const c of pack) chunks.push(c as Buffer)
  const plainTar = Buffer.concat(chunks)
  fs.writeFileSync(path.join(ctx, 'app.tar.gz'), zlib.gzipSync(plainTar))
  fs.writeFileSync(path.join(ctx, 'plain.tar'), plainTar)
  fs.writeFileSync(path.join(ctx, 'note.txt.gz'), zlib.gzipSync('just text, no tar\n'))
  fs.writeFileSync(path.join(ctx, 'fake.tar.bz2'), Buffer.concat([Buffer.from('BZh91AY&SY'), Buffer.alloc(100)]))
})
afterAll(() => fs.rmSync(ctx, { recursive: true, force: true }))

test('a .tar.gz and a .tar are extracted (owners, modes, mtimes, links as archived; .. clamped), a plain .gz copied, --chown wins', async () => {
  const df = 'FROM bb\nADD app.tar.gz /opt/app/\nADD plain.tar /opt/plain\nADD note.txt.gz /opt/\nADD --chown=app:staff app.tar.gz /owned/\n'
  const img = await Image.build(ctx, { runtime, network: 'none', dockerfile: { content: df } })
  const out = await runOutput(runtime, img.id, [
    'sh',
    '-c',
    'cd /opt; stat -c "%n %a %u:%g %Y" app/dir app/dir/a.txt plain/dir/a.txt; readlink app/dir/link; cat app/dir/hard app/escape.txt; stat -c "%h" app/dir/a.txt; ls /opt; busybox zcat note.txt.gz; stat -c "%n %u:%g" /owned/dir/a.txt; ls / | grep -c escape || true',
  ])
  expect(out).toBe(
    [
      'app/dir 750 1000:1000 1683356889',
      'app/dir/a.txt 640 1000:1000 1683356889',
      'plain/dir/a.txt 640 1000:1000 1683356889',
      'a.txt',
      'archived a',
      'kept inside',
      '2',
      'app',
      'note.txt.gz',
      'plain',
      'just text, no tar',
      '/owned/dir/a.txt 1000:50',
      '0',
      '',
    ].join('\n'),
  )
})

test('a bzip2 (or xz) archive is EUNSUPPORTED naming it; nothing is built', async () => {
  await expect(Image.build(ctx, { runtime, network: 'none', dockerfile: { content: 'FROM bb\nADD fake.tar.bz2 /x/\n' } })).rejects.toMatchObject({ code: 'EUNSUPPORTED', message: expect.stringContaining('fake.tar.bz2') })
})
