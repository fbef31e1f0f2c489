/**
 * Turning a root filesystem (a directory, or a tar / tar.gz archive) into a
 * layer directory, and computing the layer's digest on the way.
 *
 * The archive is untrusted: entries are confined to the layer (no `..`, no
 * absolute paths, no writing through a symlink the archive itself made),
 * and device nodes are skipped — a container gets its devices from /dev.
 *
 * @module
 */
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as zlib from 'node:zlib'
import { pipeline } from 'node:stream/promises'
import { Readable, Transform } from 'node:stream'
import * as tar from 'tar-stream'
import { MiniContainerError, InvalidArgumentError } from '../errors'

/** Copies a directory tree into `dest` (which exists), preserving modes, owners, times and links; returns a digest of the tree. */
export async function importDirectory(src: string, dest: string): Promise<string> {
  const hash = crypto.createHash('sha256')
  const inodes = new Map<string, string>()
  const walk = (rel: string): void => {
    const from = path.join(src, rel)
    const names = fs.readdirSync(from).sort()
    for (const name of names) {
      const relChild = path.join(rel, name)
      const s = path.join(src, relChild)
      const d = path.join(dest, relChild)
      const st = fs.lstatSync(s)
      hash.update(`${relChild}\0${st.mode}\0${st.uid}\0${st.gid}\0${st.size}\0`)
      const inode = `${st.dev}:${st.ino}`
      if (st.isFile() && st.nlink > 1 && inodes.has(inode)) {
        fs.linkSync(inodes.get(inode)!, d)
        continue
      }
      if (st.isDirectory()) {
        fs.mkdirSync(d)
        walk(relChild)
      } else if (st.isSymbolicLink()) {
        const target = fs.readlinkSync(s)
        hash.update(target)
        fs.symlinkSync(target, d)
      } else if (st.isFile()) {
        fs.copyFileSync(s, d)
        inodes.set(inode, d)
        hash.update(`${st.mtimeMs}`)
      } else {
        continue // sockets, fifos and devices are not image content
      }
      fs.lchownSync(d, st.uid, st.gid)
      if (!st.isSymbolicLink()) fs.chmodSync(d, st.mode & 0o7777)
      fs.lutimesSync(d, st.atime, st.mtime)
    }
  }
  walk('.')
  const top = fs.statSync(src)
  fs.chmodSync(dest, top.mode & 0o7777)
  return `sha256:${hash.digest('hex')}`
}

/** Normalises an archive entry name; throws when it would leave the layer. */
function confinedName(name: string): string {
  const clean = path.posix.normalize(`/${name}`).slice(1)
  if (name.split('/').includes('..')) throw new MiniContainerError('EUNSAFE', `archive entry "${name}" escapes the root with ".."; the archive is rejected`)
  return clean.replace(/\/$/, '')
}

/** Refuses to write through a symlink that an earlier entry created. */
function assertNoSymlinkParent(dest: string, rel: string): void {
  let cur = dest
  for (const part of path.dirname(rel).split('/').filter((p) => p && p !== '.')) {
    cur = path.join(cur, part)
    const st = fs.lstatSync(cur, { throwIfNoEntry: false })
    if (st?.isSymbolicLink())
      throw new MiniContainerError('EUNSAFE', `archive entry "${rel}" is written through the symlink "${path.relative(dest, cur)}"; the archive is rejected`)
  }
}

function writeEntry(dest: string, header: tar.Header, body: Readable): Promise<void> {
  const rel = confinedName(header.name)
  if (!rel) return drain(body)
  assertNoSymlinkParent(dest, rel)
  const target = path.join(dest, rel)
  fs.mkdirSync(path.dirname(target), { recursive: true })
  const finish = (): void => {
    if (header.type !== 'symlink') fs.chmodSync(target, (header.mode ?? 0o644) & 0o7777)
    fs.lchownSync(target, header.uid ?? 0, header.gid ?? 0)
    if (header.mtime) fs.lutimesSync(target, header.mtime, header.mtime)
  }
  switch (header.type) {
    case 'directory':
      fs.mkdirSync(target, { recursive: true })
      finish()
      return drain(body)
    case 'symlink':
      fs.rmSync(target, { force: true })
      fs.symlinkSync(header.linkname!, target)
      finish()
      return drain(body)
    case 'link': {
      const from = path.join(dest, confinedName(header.linkname!))
      assertNoSymlinkParent(dest, path.relative(dest, from))
      fs.rmSync(target, { force: true })
      fs.linkSync(from, target)
      return drain(body)
    }
    case 'file':
    case 'contiguous-file':
      fs.rmSync(target, { force: true })
      return pipeline(body, fs.createWriteStream(target, { mode: 0o600 })).then(finish)
    default:
      return drain(body) // devices, fifos: not image content
  }
}

function drain(body: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    body.on('end', resolve).on('error', reject)
    body.resume()
  })
}

/** Extracts a tar or tar.gz into `dest`; returns the digest of the uncompressed tar (its OCI diff id). */
export async function importArchive(file: string, dest: string): Promise<string> {
  const fd = fs.openSync(file, 'r')
  const magic = Buffer.alloc(2)
  fs.readSync(fd, magic, 0, 2, 0)
  fs.closeSync(fd)
  const gzipped = magic[0] === 0x1f && magic[1] === 0x8b
  const hash = crypto.createHash('sha256')
  const hasher = new Transform({
    transform(chunk, _enc, cb) {
      hash.update(chunk)
      cb(null, chunk)
    },
  })
  const extract = tar.extract()
  extract.on('entry', (header, body, next) => {
    Promise.resolve()
      .then(() => writeEntry(dest, header, body as unknown as Readable))
      .then(() => next(), next)
  })
  try {
    const source = fs.createReadStream(file)
    await (gzipped ? pipeline(source, zlib.createGunzip(), hasher, extract) : pipeline(source, hasher, extract))
  } catch (err) {
    if (err instanceof MiniContainerError) throw err
    throw new InvalidArgumentError(`cannot import ${file}: not a readable tar or tar.gz archive (${(err as Error).message})`)
  }
  return `sha256:${hash.digest('hex')}`
}
