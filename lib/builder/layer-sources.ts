/**
 * `COPY --from` sources read straight from a stage's (or image's) layer
 * directories through their merged view (lib/storage/volume-layer-view:
 * overlayfs's rules, each lookup confined to its layer with openat2), so no
 * throwaway container and no overlay mount is assembled to read them. As
 * in the build context, the named path is resolved inside the image's root
 * (its symlinks followed there), nothing below it is followed, and a glob
 * matches the image's paths.
 *
 * @module
 */
import * as path from 'node:path'
import { LayerView as MergedLayers, type LayerEntry } from '../storage/volume-layer-view'
import type { SourceReads } from '../files/source-reads'
import { entryOf, notFound, type Source, type SourceEntry } from './context'
import { cleanPattern, isGlob, patternRegex } from './patterns'

/**
 * Lends `use` the sources `paths` select in the layers (top-most first); their files stay readable until `use` settles.
 * `reads` opens them (a rootless runtime's: files only another id inside may read or search, through its keeper).
 */
export async function withLayerSources<T>(layerDirs: string[], paths: string[], use: (sources: Source[]) => Promise<T>, reads?: SourceReads): Promise<T> {
  // A stage of no layers (FROM scratch and nothing yet) has no file to select.
  if (!layerDirs.length) return use(paths.map((p) => { throw notFound(p, 'the stage or image has no files') }))
  const view = new MergedLayers(layerDirs, reads)
  try {
    return await use(paths.flatMap((p) => select(view, p)))
  } finally {
    view.close()
  }
}

function select(view: MergedLayers, source: string): Source[] {
  const clean = cleanPattern(source)
  if (!isGlob(clean)) return [one(view, clean, source)]
  const re = patternRegex(clean)
  const found = walk(view, view.root()).filter((rel) => re.test(rel))
  if (!found.length) throw notFound(source, "no file of the stage or image matches it")
  return found.map((rel) => one(view, rel, source))
}

function one(view: MergedLayers, rel: string, written: string): Source {
  const top = view.resolve(rel)
  if (!top) throw notFound(written, 'it does not exist in the stage or image')
  const byRel = new Map<string, LayerEntry>()
  const entries: SourceEntry[] = []
  const visit = (e: LayerEntry, below: string): void => {
    byRel.set(below, e)
    entries.push(entryOf(e.rel, below, e.stat, () => view.readlink(e)))
    if (!e.stat.isDirectory()) return
    for (const [name, child] of [...view.children(e)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) visit(child, below ? `${below}/${name}` : name)
  }
  visit(top, '')
  return { path: rel, entries, open: (below) => view.openFile(byRel.get(below)!) }
}

/** Every path of the view below `dir` (links not followed), as the context's walk lists them. */
function walk(view: MergedLayers, dir: LayerEntry): string[] {
  const out: string[] = []
  for (const [name, child] of [...view.children(dir)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    out.push(path.posix.join(dir.rel, name))
    if (child.stat.isDirectory()) out.push(...walk(view, child))
  }
  return out
}
