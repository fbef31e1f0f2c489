/**
 * The binary-safe PAX xattr reader and writer (lib/files/pax.ts), against
 * tar-stream: records we write are read back byte for byte, whatever the
 * chunking of the stream, keyed by the data offset tar-stream reports; a
 * PAX size record and GNU long names are skipped correctly.
 */
import * as tar from 'tar-stream'
import { paxEntry, PaxScanner } from '../../lib/files/pax'

const mtime = new Date(1_700_000_000_000)
const binary = Buffer.from([0xff, 0x00, 0xfe, 0x80, 0x0a, 0x3d])
const longName = `${'d'.repeat(120)}/é-file`

/** A tar: a plain file, a file with xattrs (ours), a long-named file with xattrs (its path in our record), a dir with xattrs. */
async function archive(): Promise<Buffer> {
  const pack = tar.pack()
  const chunks: Buffer[] = []
  pack.on('data', (c: unknown) => chunks.push(c as Buffer))
  const ended = new Promise<void>((r) => pack.on('end', () => r()))
  const add = (h: Partial<tar.Header> & { name: string }, body?: string) => new Promise<void>((resolve, reject) => pack.entry(h, body ?? '', (err) => (err ? reject(err) : resolve())))
  await add({ name: 'plain', mtime }, 'x'.repeat(700))
  pack.push(paxEntry({ path: Buffer.from('caps'), xattrs: new Map([['security.capability', binary]]) }, mtime))
  await add({ name: 'caps', mtime }, 'y'.repeat(513))
  pack.push(paxEntry({ path: Buffer.from(longName), xattrs: new Map([['user.a', Buffer.from('1')], ['user.b', binary]]) }, mtime))
  await add({ name: 'PaxHeader', mtime }, 'z')
  pack.push(paxEntry({ path: Buffer.from('dir/'), xattrs: new Map([['user.dir', binary]]) }, mtime))
  await add({ name: 'dir/', type: 'directory', mtime })
  pack.finalize()
  await ended
  return Buffer.concat(chunks)
}

async function readBack(bytes: Buffer, chunk: number) {
  const scanner = new PaxScanner()
  const extract = tar.extract()
  const seen: { name: string; xattrs?: Record<string, string> }[] = []
  const reading = (async () => {
    for await (const entry of extract) {
      const h = entry.header as tar.Header & { byteOffset?: number }
      const x = scanner.take(h.byteOffset)?.xattrs
      seen.push({ name: h.name, ...(x ? { xattrs: Object.fromEntries([...x].map(([k, v]) => [k, v.toString('hex')])) } : {}) })
      entry.resume()
    }
  })()
  for (let i = 0; i < bytes.length; i += chunk) {
    const part = bytes.subarray(i, i + chunk)
    scanner.write(part)
    extract.write(part)
  }
  ;(extract as unknown as { end(): void }).end()
  await reading
  return seen
}

test.each([1, 7, 512, 100000])('xattrs read back exactly, in chunks of %i bytes', async (chunk) => {
  expect(await readBack(await archive(), chunk)).toEqual([
    { name: 'plain' },
    { name: 'caps', xattrs: { 'security.capability': binary.toString('hex') } },
    { name: longName, xattrs: { 'user.a': '31', 'user.b': binary.toString('hex') } },
    { name: 'dir/', xattrs: { 'user.dir': binary.toString('hex') } },
  ])
})
