/**
 * Docker's volume seeding: when an empty volume is first mounted over an
 * image directory that has content, that content is copied into the volume
 * first (ownership, modes, mtimes, symlinks, hard links), and the volume
 * root takes the directory's owner and mode.
 *
 * The copy is built in a scratch directory beside `_data` that no
 * container can see, then moved in entry by entry, so a container already
 * using the (empty) volume never sees a half-copied file and cannot plant
 * symlinks in our way. Only if the volume is still empty at that moment
 * is anything moved; meta.json then records `seeded`, so it happens once.
 *
 * Device nodes, fifos and sockets are skipped (Node cannot create them),
 * as are extended attributes.
 *
 * @module
 */
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { AT_FDCWD, closeQuietly, openat2, O_CLOEXEC, O_DIRECTORY, O_NOFOLLOW, O_PATH } from '../sys/libc'
import { readJson, writeJson } from '../util/json-file'
import type { ResolvedMount } from './mount-types'
import { LayerView, type LayerEntry } from './volume-layer-view'
import type { VolumeMeta } from './volumes'
import { removeTreeAt } from '../files/tree'
import type { InsideIds, OwnerLedger } from '../files/owner-ledger'
import type { SourceReads } from '../files/source-reads'
import { copyData } from '../sys/fsops'


/**
 * Copies entries of a merged layer view (read through {@link LayerView}, whiteouts applied) to a
 * scratch tree, remembering hard links. files/tree.ts's TreeCopier copies between two fd-held trees
 * instead; a layer view has no single source fd to copy from.
 */
class LayerViewCopier {
  private readonly links = new Map<string, string>()
  private readonly top: string

  /**
   * @param owners - rootless: owners are recorded here (as ids inside) rather than given, for the
   *   caller to give through the runtime's user namespace once the copy is made
   */
  constructor(
    private readonly view: LayerView,
    dest: string,
    private readonly owners?: CopyOwners,
  ) {
    this.top = dest
  }

  copy(entry: LayerEntry, dest: string): void {
    const st = entry.stat
    if (st.isDirectory()) this.copyDir(entry, dest)
    else if (st.isSymbolicLink()) this.copySymlink(entry, dest)
    else if (st.isFile()) this.copyFile(entry, dest)
    // Devices, fifos, sockets: skipped (no mknod in Node).
  }

  private copyDir(entry: LayerEntry, dest: string): void {
    fs.mkdirSync(dest, { mode: 0o700 })
    for (const [name, child] of this.view.children(entry)) this.copy(child, path.join(dest, name))
    this.applyAttributes(dest, entry.stat) // last, so adding the children does not change its mtime
  }

  private copySymlink(entry: LayerEntry, dest: string): void {
    fs.symlinkSync(this.view.readlink(entry), dest)
    this.chown(dest, entry.stat)
    fs.lutimesSync(dest, entry.stat.atimeMs / 1000, entry.stat.mtimeMs / 1000)
  }

  /** Owner first: chown clears set-uid bits, which chmod then restores. */
  private applyAttributes(dest: string, st: fs.Stats): void {
    this.chown(dest, st)
    fs.chmodSync(dest, st.mode & 0o7777)
    fs.utimesSync(dest, st.atimeMs / 1000, st.mtimeMs / 1000)
  }

  private chown(dest: string, st: fs.Stats): void {
    if (!this.owners) return fs.lchownSync(dest, st.uid, st.gid)
    const { ids, ledger } = this.owners
    ledger.record(path.relative(this.top, dest) || '.', { uid: ids.uid(st.uid), gid: ids.gid(st.gid), mode: st.mode & 0o7777 })
  }

  private copyFile(entry: LayerEntry, dest: string): void {
    const key = `${entry.layer}:${entry.stat.ino}`
    const first = entry.stat.nlink > 1 ? this.links.get(key) : undefined
    if (first) return fs.linkSync(first, dest)
    const fd = this.view.openFile(entry)
    try {
      // From the fd itself: a /proc/self/fd path would be opened again as the caller (refused a file the keeper opened).
      const out = fs.openSync(dest, 'wx', 0o600)
      try {
        copyData(fd, out, -1)
      } finally {
        fs.closeSync(out)
      }
    } finally {
      closeQuietly(fd)
    }
    this.applyAttributes(dest, entry.stat)
    if (entry.stat.nlink > 1) this.links.set(key, dest)
  }
}

/** A rootless copy's owners: the layers' host ids as ids inside, and where they are recorded; and how it opens another id's files. */
export interface CopyOwners {
  /** Opens the layers' files, those only another id inside may read or search through the runtime's keeper. */
  readonly reads?: SourceReads
  readonly ids: InsideIds
  readonly ledger: OwnerLedger
}

function isEmptyDir(dir: string): boolean {
  return fs.readdirSync(dir).length === 0
}

/** A concurrent seeding of the same volume (two containers starting at once) may have moved the same entry in first: theirs stays. */
function moveEntry(from: string, to: string): void {
  try {
    fs.renameSync(from, to)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EISDIR' && code !== 'ENOTDIR') throw err
  }
}

/** Moves the scratch tree's entries into `_data` (held by fd, so it cannot be swapped), and gives it the image dir's owner and mode. */
function moveIn(scratch: string, dataDir: string, st: fs.Stats): boolean {
  const dataFd = openat2(AT_FDCWD, dataDir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0, 0)
  try {
    const data = `/proc/self/fd/${dataFd}`
    if (!isEmptyDir(data)) return false
    for (const name of fs.readdirSync(scratch)) moveEntry(path.join(scratch, name), `${data}/${name}`)
    fs.chownSync(data, st.uid, st.gid)
    fs.chmodSync(data, st.mode & 0o7777)
    return true
  } finally {
    closeQuietly(dataFd)
  }
}

/**
 * Copies what `containerPath` is in the merged layers (a directory's whole
 * tree, a file, a symlink; symlinks on the way followed inside the image's
 * root) to `dest`, which must not exist; returns false, copying nothing,
 * when the path is in no layer. (The builder's `RUN --mount=type=bind,from=`.)
 *
 * @param imageLowerDirs - the image's layer directories, top-most first
 */
export function copyFromLayers(imageLowerDirs: string[], containerPath: string, dest: string, owners?: CopyOwners): boolean {
  if (imageLowerDirs.length === 0) return false
  const view = new LayerView(imageLowerDirs, owners?.reads)
  try {
    const source = view.resolve(containerPath)
    if (!source) return false
    new LayerViewCopier(view, dest, owners).copy(source, dest)
    return true
  } finally {
    view.close()
  }
}

/**
 * Copies the image's content at `containerPath` into an empty volume, once.
 *
 * @param volumeDataDir - the volume's `_data` directory; `seeded` is recorded in the sibling meta.json
 * @param imageLowerDirs - the image's layer directories, top-most first
 * @param containerPath - where the volume is mounted in the container
 */
export async function seedVolume(volumeDataDir: string, imageLowerDirs: string[], containerPath: string): Promise<void> {
  const metaFile = path.join(path.dirname(volumeDataDir), 'meta.json')
  if (readJson<VolumeMeta>(metaFile)?.seeded || !isEmptyDir(volumeDataDir) || imageLowerDirs.length === 0) return
  const view = new LayerView(imageLowerDirs)
  const scratch = path.join(path.dirname(volumeDataDir), `.seed-${crypto.randomBytes(8).toString('hex')}`)
  try {
    const source = view.resolve(containerPath)
    if (!source?.stat.isDirectory()) return
    new LayerViewCopier(view, scratch).copy(source, scratch)
    const hasContent = !isEmptyDir(scratch)
    if (moveIn(scratch, volumeDataDir, source.stat) && hasContent) markSeeded(metaFile)
  } finally {
    view.close()
    removeTreeAt(scratch)
  }
}

function markSeeded(metaFile: string): void {
  const meta = readJson<VolumeMeta>(metaFile)
  if (meta && !meta.seeded) writeJson(metaFile, { ...meta, seeded: true })
}

/** Seeds every volume mount that allows copying (not `nocopy`), in mount order. */
export async function seedVolumes(mounts: ResolvedMount[], imageLowerDirs: string[]): Promise<void> {
  for (const m of mounts) if (m.type === 'volume' && m.copy) await seedVolume(m.source, imageLowerDirs, m.target)
}
