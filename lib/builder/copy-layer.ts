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
import { LayerApplier } from '../files/diff'
import type { EntryHeader, TarEntry } from '../files/tar-extract'
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
  const items = copyItems(view, sources, plan)
  if (archives.length) addParents(items, view, plan.dest, plan, plan.now)
  return packed(sorted(items), (pack) => writeArchives(pack, archives, plan))
}

/**
 * The COPY's layer as {@link LayerStore.addWritten} takes it (no archives): its files written into the
 * layer's directory as their entries go into its tar, each small file read once for both. Undefined when
 * the unpack of the tar is the surer way: a file too large to hold whole, or a header field the tar
 * cannot hold as it is (an owner id or mtime out of its octal range), whose parse would give another value.
 */
export function copyLayerWriter(view: LayerView, sources: Source[], plan: CopyPlan): ((diffDir: string) => Readable) | undefined {
  const items = sorted(copyItems(view, sources, plan))
  if (!items.every(writableAsIs)) return undefined
  return (diffDir) => packedAndWritten(items, diffDir)
}

/** The COPY's entries by absolute path: the sources at their destination, and their parents. */
function copyItems(view: LayerView, sources: Source[], plan: CopyPlan): Map<string, TarItem> {
  const items = new Map<string, TarItem>()
  const destStat = view.stat(plan.dest)
  const intoDir = plan.destIsDirWritten || destStat?.type === 'directory' || sources.length > 1
  for (const src of sources) {
    const dirSource = src.entries[0]?.type === 'directory'
    const target = dirSource || !intoDir ? plan.dest : path.posix.join(plan.dest, path.posix.basename(src.path))
    addParents(items, view, dirSource ? target : path.posix.dirname(target), plan, plan.now)
    for (const e of src.entries) {
      if (e.rel === '' && dirSource) continue
      const name = e.rel === '' ? target : path.posix.join(target, e.rel)
      items.set(name, item(name, src, e, plan))
    }
  }
  return items
}

function sorted(items: Map<string, TarItem>): TarItem[] {
  return [...items.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
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
  return packed(sorted(items))
}

/** Files up to this size are read whole, once, for both the layer's tree and its tar ({@link copyLayerWriter}). */
const WHOLE_FILE_MAX = 1 << 20
/** The largest value of the tar header's 7-digit octal fields (uid, gid) and 11-digit one (mtime seconds). */
const OCTAL_7_MAX = 0o7777777
const OCTAL_11_MAX = 8 ** 11 - 1

/** Whether the tar says the item as it is (see {@link copyLayerWriter}). */
function writableAsIs(i: TarItem): boolean {
  const { uid = 0, gid = 0, mtime = new Date(0), size = 0 } = i.header
  const sec = mtime.getTime() / 1000
  return uid <= OCTAL_7_MAX && gid <= OCTAL_7_MAX && sec >= 0 && sec <= OCTAL_11_MAX && size <= WHOLE_FILE_MAX
}

/** The items as a tar stream, each written into `diffDir` before its entry goes into the tar (which ends once the tree is done). */
function packedAndWritten(items: TarItem[], diffDir: string): Readable {
  const pack = tar.pack()
  ;(async () => {
    try {
      await writtenInto(diffDir, items, async (i, body) => entryWritten(pack, { ...i.header }, body && oneChunk(body)))
      pack.finalize()
    } catch (err) {
      pack.destroy(err as Error)
    }
  })()
  return toNodeReadable(pack)
}

/** Writes each item into `diffDir` as the unpack of its tar entry would, then hands it to `then` with the file's bytes. */
async function writtenInto(diffDir: string, items: TarItem[], then: (i: TarItem, body: Buffer | undefined) => Promise<void>): Promise<void> {
  const applier = new LayerApplier(diffDir, { whiteouts: 'overlay', fresh: true }) // addWritten's empty diff dir
  try {
    for (const i of items) {
      const body = i.file && (await wholeFile(i.file.source, i.file.entry))
      await applier.add(parsedEntry(i.header, body))
      await then(i, body)
    }
    await applier.finish()
  } finally {
    await applier.close()
  }
}

/** The entry a parse of the tar would give for `header` (tar-stream's defaults, masks and whole-second mtime), with its bytes. */
function parsedEntry(header: TarItem['header'], body: Buffer | undefined): TarEntry {
  const type = header.type ?? 'file'
  const mode = (header.mode || (type === 'directory' ? 0o755 : 0o644)) & 0o7777
  const seconds = ((header.mtime ?? new Date()).getTime() / 1000) | 0
  const parsed: EntryHeader = { name: header.name, type, mode, uid: header.uid ?? 0, gid: header.gid ?? 0, mtime: new Date(seconds * 1000), size: type === 'file' ? (body?.length ?? 0) : 0, linkname: header.linkname ?? '', uname: '', gname: '', devmajor: 0, devminor: 0 }
  return Object.assign(oneChunk(body ?? Buffer.alloc(0)), { header: parsed })
}

async function* oneChunk(body: Buffer): AsyncGenerator<Buffer> {
  if (body.length) yield body
}

/** A small source file's bytes in one buffer. */
async function wholeFile(source: Source, entry: SourceEntry): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of fileChunks(source, entry)) chunks.push(chunk)
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
}
