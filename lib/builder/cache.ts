/**
 * The build cache: step key -> the layer (diffID) the step made, one small
 * file per key under `<root>/build-cache`, written by rename, so every
 * process and jest worker on the root shares it. An entry whose layer is no
 * longer stored (its images were removed) is a miss. A step's key chains its
 * parent's key, so a miss invalidates every step after it.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { randomBytes } from 'node:crypto'

/** A stable key over the given parts. */
export function stepKey(parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex')
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

  /** The layer cached for `key`, if it is still stored. */
  get(key: string): string | undefined {
    let diffId: string
    try {
      diffId = fs.readFileSync(path.join(this.dir, key), 'utf8')
    } catch {
      return undefined
    }
    return this.hasLayer(diffId) ? diffId : undefined
  }

  /** Records the layer a step made (atomically: readers see the old entry or the new one). */
  put(key: string, diffId: string): void {
    fs.mkdirSync(this.dir, { recursive: true })
    const tmp = path.join(this.dir, `.tmp-${randomBytes(6).toString('hex')}`)
    fs.writeFileSync(tmp, diffId)
    fs.renameSync(tmp, path.join(this.dir, key))
  }
}
