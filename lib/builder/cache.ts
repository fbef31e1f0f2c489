/**
 * The build cache: step key -> the layer (diffID) the step made and when it
 * was made (a rebuild from the cache then writes the same history, so the
 * same image id, as BuildKit does), one small file per key under
 * `<root>/build-cache`, written by rename, so every
 * process and jest worker on the root shares it. An entry whose layer is no
 * longer stored (its images were removed) is a miss. A step's key chains its
 * parent's key, so a miss invalidates every step after it.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { randomBytes } from 'node:crypto'

/** A cached step: its layer and when it was made (ISO 8601; absent in entries written before it was recorded). */
export interface CachedLayer {
  diffId: string
  created?: string
}

/** Reads an entry: the diffID, then on a second line its creation time. */
function parseEntry(text: string): CachedLayer {
  const [diffId, created] = text.split('\n')
  return created ? { diffId, created } : { diffId }
}

/** The cache of one runtime root. */
export class BuildCache {
  private readonly dir: string

  /**
   * @param root - the runtime root
   * @param hasLayer - whether a layer is still stored
   */
  constructor(
    root: string,
    private readonly hasLayer: (diffId: string) => boolean,
  ) {
    this.dir = path.join(root, 'build-cache')
  }

  /** The layer cached for `key`, if it is still stored (the entry's mtime records this last use). */
  get(key: string): CachedLayer | undefined {
    let entry: CachedLayer
    const file = path.join(this.dir, key)
    try {
      entry = parseEntry(fs.readFileSync(file, 'utf8'))
    } catch {
      return undefined
    }
    if (!this.hasLayer(entry.diffId)) return undefined
    const now = new Date()
    fs.utimesSync(file, now, now)
    return entry
  }

  /** Forgets the entries last used before `cutoff` (ms since 1970); returns their layers and the layers the remaining entries keep. */
  forget(cutoff: number): { dropped: string[]; kept: Set<string> } {
    const dropped: string[] = []
    const kept = new Set<string>()
    for (const name of fs.existsSync(this.dir) ? fs.readdirSync(this.dir) : []) {
      const file = path.join(this.dir, name)
      const st = fs.statSync(file, { throwIfNoEntry: false })
      if (!st) continue
      const { diffId } = parseEntry(fs.readFileSync(file, 'utf8'))
      if (st.mtimeMs >= cutoff && !name.startsWith('.tmp-')) {
        kept.add(diffId)
        continue
      }
      fs.rmSync(file, { force: true })
      if (!name.startsWith('.tmp-')) dropped.push(diffId)
    }
    return { dropped, kept }
  }

  /** Records the layer a step made and when (atomically: readers see the old entry or the new one). */
  put(key: string, { diffId, created }: Required<CachedLayer>): void {
    fs.mkdirSync(this.dir, { recursive: true })
    const tmp = path.join(this.dir, `.tmp-${randomBytes(6).toString('hex')}`)
    fs.writeFileSync(tmp, `${diffId}\n${created}`)
    fs.renameSync(tmp, path.join(this.dir, key))
  }
}
