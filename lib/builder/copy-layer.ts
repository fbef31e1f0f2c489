/**
 * The layer a COPY makes, written directly as a tar (no container): the
 * selected sources at their destination with Docker's rules (a directory's
 * contents go into the destination, a file into a destination ending in "/"
 * or that is a directory, else it becomes the destination), the parent
 * directories on the way (those the image has keep their metadata, as an
 * overlay copy-up would; missing ones are made 0755), owners root or
 * `--chown`, modes the source's or `--chmod`.
 *
 * @module
 */
import * as path from 'node:path'
import type { Readable } from 'node:stream'
import * as tar from 'tar-stream'
import { toNodeReadable } from '../files/tar-streams'
import { entryWritten } from '../files/tar-writer'
import type { Source, SourceEntry } from './context'
import type { LayerView } from './layer-lookup'
import { fileChunks } from './source-bytes'
import { writeArchiveEntries } from './archive-source'
import { clamped } from './source-date'

/** Where and how a COPY writes. */
export interface CopyPlan {
  /** Absolute destination as written (after expansion and WORKDIR). */
  readonly dest: string
  /** The destination ended in "/" (or ".") */
  readonly destIsDirWritten: boolean
  readonly chown?: { uid: number; gid: number }
  readonly chmod?: number
  /** The mtime of directories the layer makes. */
  readonly now: Date
  /** sourceDateEpoch: no mtime in the layer is later. */
  readonly clampTo?: Date
}


interface TarItem {
  readonly name: string
  readonly header: Partial<tar.Header> & { name: string }
  /** A file's source, streamed into the tar when the entry is written. */
  readonly file?: { readonly source: Source; readonly entry: SourceEntry }
}

/** The tar of the COPY's layer, entries sorted so parents come first; ADD's `archives` are extracted into the destination after them. */
export function copyLayerTar(view: LayerView, sources: Source[], plan: CopyPlan, archives: Source[] = []): Readable {
  const items = new Map<string, TarItem>()
  const now = plan.now
  const destStat = view.stat(plan.dest)
  const intoDir = plan.destIsDirWritten || destStat?.type === 'directory' || sources.length > 1
  for (const src of sources) {
    const dirSource = src.entries[0]?.type === 'directory'
    const target = dirSource || !intoDir ? plan.dest : path.posix.join(plan.dest, path.posix.basename(src.path))
    addParents(items, view, dirSource ? target : path.posix.dirname(target), plan, now)
    for (const e of src.entries) {
      if (e.rel === '' && dirSource) continue
      const name = e.rel === '' ? target : path.posix.join(target, e.rel)
      items.set(name, item(name, src, e, plan))
    }
  }
  if (archives.length) addParents(items, view, plan.dest, plan, now)
  return packed([...items.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)), (pack) => writeArchives(pack, archives, plan))
}

async function writeArchives(pack: tar.Pack, archives: Source[], plan: CopyPlan): Promise<void> {
  for (const a of archives) await writeArchiveEntries(pack, a, plan.dest, plan)
}

/** `dir` and its ancestors: copied up from the image when it has them, else made 0755. */
function addParents(items: Map<string, TarItem>, view: LayerView, dir: string, plan: CopyPlan, now: Date): void {
  for (let d = dir; d !== '/' && d !== '.'; d = path.posix.dirname(d)) {
    if (items.has(d)) continue
    const st = view.stat(d)
    const owner = st ? { uid: st.uid, gid: st.gid } : (plan.chown ?? { uid: 0, gid: 0 })
    items.set(d, { name: d, header: { name: `${d.slice(1)}/`, type: 'directory', mode: st?.mode ?? 0o755, ...owner, mtime: st?.mtime ?? now } })
  }
}

function item(name: string, source: Source, e: SourceEntry, plan: CopyPlan): TarItem {
  const owner = plan.chown ?? { uid: 0, gid: 0 }
  const mode = e.type === 'symlink' ? 0o777 : (plan.chmod ?? e.mode)
  const base = { ...owner, mode, mtime: clamped(e.mtime, plan.clampTo) }
  if (e.type === 'directory') return { name, header: { ...base, name: `${name.slice(1)}/`, type: 'directory' } }
  if (e.type === 'symlink') return { name, header: { ...base, name: name.slice(1), type: 'symlink', linkname: e.link ?? '' } }
  return { name, header: { ...base, name: name.slice(1), type: 'file', size: e.size }, file: { source, entry: e } }
}

/** The items as a tar stream, files streamed in with backpressure (the sources must stay open until it ends). */
function packed(items: TarItem[], then?: (pack: tar.Pack) => Promise<void>): Readable {
  const pack = tar.pack()
  ;(async () => {
    try {
      for (const i of items) await entryWritten(pack, i.header, i.file && fileChunks(i.file.source, i.file.entry))
      await then?.(pack)
      pack.finalize()
    } catch (err) {
      pack.destroy(err as Error)
    }
  })()
  return toNodeReadable(pack)
}

/** The layer WORKDIR makes for a directory the image lacks: it and its missing parents, 0755, owned by `owner` (root when none). */
export function mkdirLayerTar(view: LayerView, dir: string, now: Date, owner?: { uid: number; gid: number }): Readable {
  const items = new Map<string, TarItem>()
  addParents(items, view, dir, { dest: dir, destIsDirWritten: true, now, ...(owner ? { chown: owner } : {}) }, now)
  return packed([...items.values()].sort((a, b) => (a.name < b.name ? -1 : 1)))
}
