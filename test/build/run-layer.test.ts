/**
 * A RUN's layer on a root runtime is the throwaway container's upper dir
 * itself, moved into the store (not its files written again from the tar),
 * and it is still exactly what its blob unpacks to: mtimes to the
 * nanosecond, owners, modes, sizes, content, link targets, devices,
 * whiteouts, opaque directories and extended attributes (overlay's own
 * copy-up marks are not in the tar, so not in the layer). Upper dirs whose
 * tar says something else (a file named `.wh.*`) are stored from the tar.
 * A COPY's layer is written as its tar is made (not unpacked from it), and
 * equals what its blob unpacks to too.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Container, Image, type Runtime } from '../../lib'
import { applyLayer } from '../../lib/files'
import { diskUsage } from '../../lib/files/disk-usage'
import { useRuntime } from '../helpers'
import { useBuildContexts } from '../tools/build-context'

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { busybox: true, hostImage: false })
const context = useBuildContexts('mc-run-layer-ctx-')

/** Every entry below `dir`: type, mode, owner, size, content digest, link target, device, mtime in ns, xattrs. */
function treeOf(dir: string): string[] {
  const out: string[] = []
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
      const p = path.join(dir, rel, name)
      const st = fs.lstatSync(p, { bigint: true })
      const whiteout = st.isCharacterDevice() && st.rdev === 0n
      const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? `link->${fs.readlinkSync(p)}` : st.isFile() ? `file ${createHash('sha256').update(fs.readFileSync(p)).digest('hex').slice(0, 12)}` : whiteout ? 'whiteout' : `special ${st.mode & 0o170000n} ${st.rdev}`
      // A whiteout is hidden by overlay: only that it is one counts.
      const meta = whiteout ? '' : ` ${(st.mode & 0o7777n).toString(8)} ${st.uid}:${st.gid} ${st.isDirectory() ? '' : st.size} ${st.mtimeNs} nlink=${st.isDirectory() ? '' : st.nlink}`
      const xattrs = execFileSync('getfattr', ['--absolute-names', '-h', '-d', '-m', '-', '-e', 'hex', p], { encoding: 'utf8' }).split('\n').filter((l) => l && !l.startsWith('#')).join(',')
      out.push(`${path.join(rel, name)} ${kind}${meta} [${xattrs}]`)
      if (st.isDirectory()) walk(path.join(rel, name))
    }
  }
  walk('')
  return out
}

/** The RUN layer of `img` (its last) and what its stored blob unpacks to, as {@link treeOf} lists them. */
async function layerAndItsBlob(img: Image): Promise<{ layer: string[]; unpacked: string[] }> {
  const diffId = img.details.layers.at(-1)!
  const [blob] = runtime.images.layers.blobsOf(diffId)
  expect(blob.digest).toBe(diffId) // a plain tar: its digest is the diffID
  const dir = fs.mkdtempSync(path.join(runtime.root, 'unpacked-'))
  try {
    await applyLayer(dir, fs.createReadStream(runtime.images.blobs.path(blob.digest)), { whiteouts: 'overlay' })
    return { layer: treeOf(runtime.images.layerPath(diffId)), unpacked: treeOf(dir) }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

// Sub-second mtimes everywhere; copied-up /etc and /etc/group (overlay's origin and impure marks); a whiteout;
// an opaque directory; a symlink, a hard link, a fifo and a device.
const many = [
  'echo new > /new && mkdir -p /d/e && echo deep > /d/e/f && ln -s ../new /d/link && ln /new /hard',
  'echo more >> /etc/group && rm /etc/motd && rm -rf /tmp && mkdir /tmp && echo t > /tmp/t',
  'busybox mkfifo /fifo && busybox mknod /null2 c 1 3 && chmod 4750 /d/e/f',
].join(' && ')

test("a RUN's layer is the container's upper dir moved into the store: the file the RUN wrote is the layer's, same inode", async () => {
  const img = await Image.build(context({}), { runtime, network: 'none', noCache: true, dockerfile: { content: 'FROM bb\nRUN echo hi > /x && stat -c %i /x > /x.ino\n' } })
  const layer = runtime.images.layerPath(img.details.layers.at(-1)!)
  // Overlay reports an upper file's own inode number (all layers on one filesystem): an unpack writes a new file.
  expect(String(fs.statSync(path.join(layer, 'x')).ino)).toBe(fs.readFileSync(path.join(layer, 'x.ino'), 'utf8').trim())
})

test("a RUN's stored layer equals what its blob unpacks to (mtimes to the ns, modes, owners, links, devices, whiteouts, opaque dirs, xattrs), and containers of the image see the RUN's files", async () => {
  const img = await Image.build(context({}), { runtime, network: 'none', noCache: true, dockerfile: { content: `FROM bb\nRUN ${many}\n` } })
  const { layer, unpacked } = await layerAndItsBlob(img)
  expect(layer).toEqual(unpacked)
  expect(layer.some((l) => l.startsWith('etc/motd whiteout'))).toBe(true)
  expect(layer.find((l) => l.startsWith('tmp dir'))).toContain('trusted.overlay.opaque=0x79')
  expect(layer.join('\n')).not.toMatch(/overlay\.(origin|impure)/)
  // Sized on the walk that prepared it: as diskUsage counts the stored tree (the hard link once, the symlink's target path).
  expect(runtime.images.layers.size(img.details.layers.at(-1)!)).toBe(await diskUsage(runtime.images.layerPath(img.details.layers.at(-1)!)))
  const out = await Image.build(context({}), { runtime, network: 'none', noCache: true, dockerfile: { content: `FROM ${img.id}\nRUN cat /d/e/f /d/link > /seen && tail -n 1 /etc/group >> /seen && ls /etc/motd /tmp > /ls 2>&1 || true\n` } })
  const seen = runtime.images.layerPath(out.details.layers.at(-1)!)
  expect(fs.readFileSync(path.join(seen, 'seen'), 'utf8')).toBe('deep\nnew\nmore\n')
  expect(fs.readFileSync(path.join(seen, 'ls'), 'utf8')).toMatch(/motd: No such file or directory\n(.*\n)?t\n/)
})

test("a RUN that leaves a file named .wh.* is stored from its tar, as before: the layer still equals what its blob unpacks to", async () => {
  const img = await Image.build(context({}), { runtime, network: 'none', noCache: true, dockerfile: { content: 'FROM bb\nRUN echo x > /.wh.motd && echo y > /y\n' } })
  const { layer, unpacked } = await layerAndItsBlob(img)
  expect(layer).toEqual(unpacked)
})

test('the RUN layer of a sourceDateEpoch build equals what its blob unpacks to, mtimes clamped', async () => {
  const img = await Image.build(context({}), { runtime, network: 'none', noCache: true, sourceDateEpoch: 1_000_000_000, dockerfile: { content: `FROM bb\nRUN ${many}\n` } })
  const { layer, unpacked } = await layerAndItsBlob(img)
  expect(layer).toEqual(unpacked)
  expect(fs.statSync(path.join(runtime.images.layerPath(img.details.layers.at(-1)!), 'new')).mtimeMs).toBe(1_000_000_000_000)
})

test('a build leaves no layer scratch, temp blob, container or throwaway image once it returns, its RUN containers removed in the background meanwhile', async () => {
  const root = runtime.root
  const before = (await Image.list({ runtime })).map((i) => i.id)
  const img = await Image.build(context({}), { runtime, network: 'none', noCache: true, dockerfile: { content: 'FROM bb\nRUN echo hi > /x\nRUN echo ho > /y\nRUN echo he > /z\n' } })
  expect(fs.readdirSync(path.join(root, 'layers', 'tmp'))).toEqual([])
  expect(fs.readdirSync(path.join(root, 'blobs', 'tmp'))).toEqual([])
  expect(await Container.list({ runtime, all: true })).toEqual([])
  expect((await Image.list({ runtime })).map((i) => i.id).sort()).toEqual([...before, img.id].sort())
})

test("a build step's layer is committed as its diff and size alone (its plain tar needs no record), and its blob is still found for save and push", async () => {
  const img = await Image.build(context({ 'a.txt': 'a\n' }), { runtime, network: 'none', noCache: true, dockerfile: { content: 'FROM bb\nCOPY a.txt /a.txt\nRUN echo hi > /x\n' } })
  for (const diffId of img.details.layers.slice(-2)) {
    const home = path.dirname(runtime.images.layerPath(diffId))
    expect(fs.readdirSync(home).sort()).toEqual(['diff', 'size'])
    expect(fs.existsSync(path.join(runtime.root, 'layers', 'by-blob', diffId.slice('sha256:'.length)))).toBe(false)
    expect(runtime.images.layers.blobsOf(diffId)).toEqual([{ digest: diffId, mediaType: 'application/vnd.oci.image.layer.v1.tar' }])
    expect(runtime.images.layers.unpacked(diffId)).toBe(diffId)
  }
  const saved = path.join(runtime.root, 'saved.tar')
  await Image.save(img.id, saved, { runtime })
  const listing = execFileSync('tar', ['-tf', saved], { encoding: 'utf8' })
  for (const diffId of img.details.layers) expect(listing).toContain(diffId.slice('sha256:'.length))
  fs.rmSync(saved)
})

/** A context of files of every kind a COPY takes: modes (setuid, 000), an empty file, a symlink, a name past ustar's 100 bytes, nested dirs, sub-second mtimes. */
function copyContext(): string {
  const long = `${'n'.repeat(120)}.txt`
  const dir = context({ 'src/a.txt': 'a\n', 'src/empty': '', 'src/sub/deep/x.sh': '#!/bin/sh\necho x\n', 'src/zero': 'z', [`src/${long}`]: 'long\n', 'big/blob.bin': '' })
  fs.chmodSync(path.join(dir, 'src/sub/deep/x.sh'), 0o4755)
  fs.chmodSync(path.join(dir, 'src/zero'), 0)
  fs.chmodSync(path.join(dir, 'src/sub'), 0o750)
  fs.symlinkSync('../a.txt', path.join(dir, 'src/sub/link'))
  fs.utimesSync(path.join(dir, 'src/a.txt'), 1_234_567_890.789, 1_234_567_890.789)
  fs.writeFileSync(path.join(dir, 'big/blob.bin'), Buffer.alloc((1 << 20) + 1, 7)) // past what the COPY writer reads whole: the tar's unpack stores it
  return dir
}

test.each([
  ['COPY src/ /src/', 'a directory\'s contents into a new one'],
  ['COPY --chown=1000:1001 --chmod=640 src/ /etc/copied/', 'with --chown and --chmod, into a directory the image has'],
  ['COPY src/a.txt src/zero src/sub/link /usr/bin/', 'several sources into an image directory (its metadata copied up)'],
  ['COPY big/ /big/', 'a file larger than the writer reads whole'],
])("a COPY's layer (%s: %s) equals what its blob unpacks to: modes, owners, sizes, content, link targets, whole-second mtimes", async (instruction) => {
  const img = await Image.build(copyContext(), { runtime, network: 'none', noCache: true, dockerfile: { content: `FROM bb\n${instruction}\n` } })
  const { layer, unpacked } = await layerAndItsBlob(img)
  expect(layer).toEqual(unpacked)
  expect(layer.length).toBeGreaterThan(1)
  expect(runtime.images.layers.size(img.details.layers.at(-1)!)).toBe(await diskUsage(runtime.images.layerPath(img.details.layers.at(-1)!)))
})
