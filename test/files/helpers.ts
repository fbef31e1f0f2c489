// Shared helpers of the files tests: unique temp dirs (tests run in parallel) and tree snapshots.
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { S_IFIFO, mknodat } from '../../lib/sys/fsops'

/** Temp dirs made by a test; remove them all with {@link cleanup}. */
export class Scratch {
  private readonly dirs: string[] = []
  private readonly mounts: string[] = []

  dir(prefix = 'mc-files-'): string {
    const d = fs.mkdtempSync(path.join('/tmp', prefix))
    this.dirs.push(d)
    return d
  }

  /** Records a mount point to unmount (lazily) before removing dirs. */
  mounted(target: string): void {
    this.mounts.push(target)
  }

  cleanup(umount: (target: string) => void): void {
    for (const m of this.mounts.reverse()) {
      try {
        umount(m)
      } catch {}
    }
    for (const d of this.dirs) fs.rmSync(d, { recursive: true, force: true })
    this.dirs.length = 0
    this.mounts.length = 0
  }
}

export interface NodeInfo {
  type: 'file' | 'dir' | 'symlink' | 'fifo' | 'other'
  mode: number
  uid: number
  gid: number
  mtimeNs: bigint
  size?: number
  md5?: string
  link?: string
  ino: bigint
  nlink: number
}

/** md5 of a file, read in 1 MiB pieces (big files stay out of memory). */
export function md5(file: string): string {
  const hash = crypto.createHash('md5')
  const fd = fs.openSync(file, 'r')
  try {
    const buf = Buffer.alloc(1 << 20)
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null)
      if (n === 0) break
      hash.update(buf.subarray(0, n))
    }
  } finally {
    fs.closeSync(fd)
  }
  return hash.digest('hex')
}

export function info(p: string): NodeInfo {
  const st = fs.lstatSync(p, { bigint: true })
  const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFIFO() ? 'fifo' : 'other'
  return {
    type,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtimeNs: st.mtimeNs,
    size: type === 'file' ? Number(st.size) : undefined,
    md5: type === 'file' ? md5(p) : undefined,
    link: type === 'symlink' ? fs.readlinkSync(p) : undefined,
    ino: st.ino,
    nlink: Number(st.nlink),
  }
}

/** Every entry below `dir` (relative path -> info), without following symlinks; ino/nlink dropped unless asked. */
export function snapshot(dir: string, opts: { withDirTimes?: boolean } = {}): Record<string, Omit<NodeInfo, 'ino' | 'nlink'>> {
  const out: Record<string, Omit<NodeInfo, 'ino' | 'nlink'>> = {}
  const walk = (rel: string) => {
    const abs = rel ? path.join(dir, rel) : dir
    for (const name of fs.readdirSync(abs).sort()) {
      const r = rel ? `${rel}/${name}` : name
      const { ino: _i, nlink: _n, ...i } = info(path.join(dir, r))
      if (i.type === 'dir' && !opts.withDirTimes) i.mtimeNs = 0n
      out[r] = i
      if (i.type === 'dir') walk(r)
    }
  }
  walk('')
  return out
}

/**
 * A source tree with every kind of object and metadata:
 * t/file (0640, 1234:5678, fixed mtime), t/exec (04755), t/sub/deep (file),
 * t/empty (empty dir 0700), t/link -> file, t/abs -> /etc, t/hard1 + t/sub/hard2
 * (hard links), t/fifo.
 */
export function makeTree(parent: string, name = 't'): string {
  const t = path.join(parent, name)
  fs.mkdirSync(path.join(t, 'sub'), { recursive: true })
  fs.mkdirSync(path.join(t, 'empty'))
  fs.chmodSync(path.join(t, 'empty'), 0o700)
  fs.writeFileSync(path.join(t, 'file'), 'hello file\n')
  fs.chownSync(path.join(t, 'file'), 1234, 5678)
  fs.chmodSync(path.join(t, 'file'), 0o640)
  fs.writeFileSync(path.join(t, 'exec'), '#!/bin/sh\necho hi\n')
  fs.chmodSync(path.join(t, 'exec'), 0o4755)
  fs.writeFileSync(path.join(t, 'sub', 'deep'), crypto.randomBytes(100_000))
  fs.writeFileSync(path.join(t, 'hard1'), 'linked\n')
  fs.linkSync(path.join(t, 'hard1'), path.join(t, 'sub', 'hard2'))
  fs.symlinkSync('file', path.join(t, 'link'))
  fs.lchownSync(path.join(t, 'link'), 4321, 8765)
  fs.symlinkSync('/etc', path.join(t, 'abs'))
  mknodat(-100, path.join(t, 'fifo'), S_IFIFO | 0o644, 0, 0)
  const when = new Date('2020-02-03T04:05:06.789Z')
  for (const f of ['file', 'exec', 'sub/deep', 'hard1', 'fifo']) fs.utimesSync(path.join(t, f), when, when)
  fs.lutimesSync(path.join(t, 'link'), when, when)
  fs.utimesSync(path.join(t, 'sub'), when, when)
  fs.utimesSync(path.join(t, 'empty'), when, when)
  fs.utimesSync(t, when, when)
  return t
}

/** No staging leftovers (.mc-cp-*, .mc-put-*) anywhere below `dir`. */
export function leftovers(dir: string): string[] {
  const found: string[] = []
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith('.mc-cp-') || e.name.startsWith('.mc-put-') || e.name.startsWith('.mc-cross-')) found.push(path.join(d, e.name))
      if (e.isDirectory()) walk(path.join(d, e.name))
    }
  }
  walk(dir)
  return found
}
