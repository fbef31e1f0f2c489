/**
 * ADD of local archives: a tar, plain or compressed (gzip, bzip2, xz: by
 * content, whatever the name), is extracted into the destination (owners,
 * modes, links as archived; `--chown` wins), a .gz that holds no tar and a
 * corrupt .bz2 are copied as they are, entries named with `..` stay below
 * the destination. ADD of
 * a URL (a server on 127.0.0.1): mode 0600, Last-Modified as mtime, named
 * after the path, never extracted, a cache hit while the bytes are the
 * same; a 404 is ENOTFOUND.
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
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
  // The peers' own compressors make the archives (a missing one fails the setup).
  fs.writeFileSync(path.join(ctx, 'app.tar.bz2'), execFileSync('bzip2', ['-c'], { input: plainTar }))
  fs.writeFileSync(path.join(ctx, 'app-xz.bin'), execFileSync('xz', ['-c'], { input: plainTar }))
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

test('bzip2 and xz archives (told by content, not by name) are extracted like the tar; a corrupt .bz2 is copied as it is', async () => {
  const img = await Image.build(ctx, { runtime, network: 'none', dockerfile: { content: 'FROM bb\nADD app.tar.bz2 /bz/\nADD app-xz.bin /xz/\nADD fake.tar.bz2 /x/\n' } })
  const out = await runOutput(runtime, img.id, ['sh', '-c', 'for d in /bz /xz; do stat -c "%n %a %u:%g %Y" $d/dir/a.txt; readlink $d/dir/link; cat $d/dir/hard $d/escape.txt; done; ls /x; stat -c %s /x/fake.tar.bz2'])
  const archived = (d: string) => [`${d}/dir/a.txt 640 1000:1000 1683356889`, 'a.txt', 'archived a', 'kept inside']
  expect(out).toBe([...archived('/bz'), ...archived('/xz'), 'fake.tar.bz2', '110', ''].join('\n'))
})

test('ADD <url>: fetched from 127.0.0.1 (a redirect followed), 0600 with the Last-Modified mtime, not extracted; same bytes hit the cache, new bytes miss; 404 is ENOTFOUND', async () => {
  let body = 'served bytes\n'
  const gz = zlib.gzipSync(fs.readFileSync(path.join(ctx, 'plain.tar')))
  const server = http.createServer((req, res) => {
    if (req.url === '/old/data.txt') return res.writeHead(302, { location: '/files/data.txt' }).end()
    if (req.url === '/files/data.txt') return res.writeHead(200, { 'last-modified': 'Sat, 06 May 2023 07:08:09 GMT' }).end(body)
    if (req.url === '/files/app.tar.gz') return res.writeHead(200).end(gz)
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  try {
    const df = `FROM bb\nADD ${base}/old/data.txt /opt/\nADD ${base}/files/app.tar.gz /opt/named.tgz\n`
    const build = async () => {
      const cached: string[] = []
      const img = await Image.build(ctx, { runtime, network: 'none', dockerfile: { content: df }, onLog: (line, step) => line === 'CACHED' && cached.push(step.instruction.split(' ')[1]) })
      return { img, cached }
    }
    const first = await build()
    expect(await runOutput(runtime, first.img.id, ['sh', '-c', 'stat -c "%n %a %u:%g %Y" /opt/data.txt; cat /opt/data.txt; stat -c %s /opt/named.tgz'])).toBe(`/opt/data.txt 600 0:0 1683356889\nserved bytes\n${gz.length}\n`)
    expect((await build()).cached).toEqual([`${base}/old/data.txt`, `${base}/files/app.tar.gz`])
    body = 'new bytes\n'
    const changed = await build()
    expect(changed.cached).toEqual([])
    expect(await runOutput(runtime, changed.img.id, ['cat', '/opt/data.txt'])).toBe('new bytes\n')
    await expect(Image.build(ctx, { runtime, dockerfile: { content: `FROM bb\nADD ${base}/missing /x\n` } })).rejects.toMatchObject({ code: 'ENOTFOUND', message: expect.stringContaining('404') })
    expect(fs.readdirSync(path.join(runtime.root, 'tmp')).filter((f) => f.startsWith('add-url-'))).toEqual([])
  } finally {
    server.close()
  }
})
