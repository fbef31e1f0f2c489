/**
 * Digests of `COPY --from` sources already computed, by the layers they
 * were read from and the paths named: layers are content-addressed and
 * immutable, so the same layers and paths always give the same digest and
 * source count. A build whose `--from` stage came out as before finds its
 * digest here and takes the step from the cache without assembling the
 * stage's files (a throwaway container and an overlay mount) to hash them.
 * One small file per key under `<root>/build-sources`, written by rename.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { randomBytes } from 'node:crypto'

/** What a memoised selection hashed to. */
export interface SourceDigest {
  /** {@link sourcesDigest} of the selected sources. */
  readonly digest: string
  /** How many sources the paths selected (globs may select several). */
  readonly count: number
}

/** The memo of one runtime root. */
export class SourceDigestMemo {
  private readonly dir: string

  /** @param root - the runtime root */
  constructor(root: string) {
    this.dir = path.join(root, 'build-sources')
  }

  /** The digest recorded for `key`, if any (the entry's mtime records this last use, for pruning). */
  get(key: string): SourceDigest | undefined {
    const file = path.join(this.dir, key)
    try {
      const found = JSON.parse(fs.readFileSync(file, 'utf8')) as SourceDigest
      const now = new Date()
      fs.utimesSync(file, now, now)
      return found
    } catch {
      return undefined
    }
  }

  /** Records a digest (atomically: readers see no entry or the whole one). */
  put(key: string, value: SourceDigest): void {
    fs.mkdirSync(this.dir, { recursive: true })
    const tmp = path.join(this.dir, `.tmp-${randomBytes(6).toString('hex')}`)
    fs.writeFileSync(tmp, JSON.stringify(value))
    fs.renameSync(tmp, path.join(this.dir, key))
  }

  /** Forgets the entries last used before `cutoff` (ms since 1970). */
  forget(cutoff: number): void {
    for (const name of fs.existsSync(this.dir) ? fs.readdirSync(this.dir) : []) {
      const file = path.join(this.dir, name)
      const st = fs.statSync(file, { throwIfNoEntry: false })
      if (st && st.mtimeMs < cutoff) fs.rmSync(file, { force: true })
    }
  }
}
