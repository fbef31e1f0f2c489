/**
 * Turning a root filesystem (a directory, or a tar / tar.gz archive) into a
 * layer directory, and computing the layer's digest on the way.
 *
 * The archive is untrusted: it is applied by the files layer's confined
 * extractor (no `..`, every parent resolved inside the layer, no device
 * nodes — a container gets its devices from /dev).
 *
 * @module
 */
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Transform } from 'node:stream'
import { MiniContainerError, InvalidArgumentError } from '../errors'
import { decompressed } from '../files/tar'
import { applyLayer } from '../files/diff'

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

/**
 * Applies a tar or tar.gz onto `dest` as an overlay lower dir (OCI
 * whiteouts become overlay whiteouts), confined to `dest`; returns the
 * digest of the uncompressed tar (its OCI diff id).
 */
export async function importArchive(file: string, dest: string): Promise<string> {
  const hash = crypto.createHash('sha256')
  const hashing = new Transform({
    transform(chunk, _enc, cb) {
      hash.update(chunk)
      cb(null, chunk)
    },
  })
  try {
    await applyLayer(dest, decompressed(fs.createReadStream(file)).pipe(hashing), { whiteouts: 'overlay' })
  } catch (err) {
    if (err instanceof MiniContainerError && err.code !== 'ESYSCALL') throw err
    throw new InvalidArgumentError(`cannot import ${file}: not a valid, self-contained tar or tar.gz archive (${(err as Error).message})`)
  }
  return `sha256:${hash.digest('hex')}`
}
