/**
 * One container directory made ahead, off the start path: a create renames
 * it into place instead of making it. The directory of a new container is
 * the costliest of its files (the containers/ directory's top-directory flag
 * gives each its own block group: ~0.3 ms for the mkdir, and its first file
 * another 0.1 ms, under load), and its `upper` and `work` come with it.
 *
 * The spare is made on libuv's threadpool just after a create used (or
 * could not find) one, under the name a create builds its directory under
 * (`.creating-<random>-<pid>`, ContainerStore.create), so a process killed
 * with a spare left is collected by the next recovery like any unfinished
 * create; it also holds the `hosts` and `resolv.conf` of the create before
 * (most containers of a process have the same), each written again only
 * when the new container's differs. It goes when its runtime closes, or when
 * the process exits (a script whose last work is `await c.wait()` leaves its
 * root as it found it).
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { debug } from '../util/debug'

/** A spare directory and the files it holds, name to content. */
export interface SpareDir {
  dir: string
  files: ReadonlyMap<string, string>
}

/** The stores' spares that are ready, removed if the process exits with them unused. */
const readyAtExit = new Set<string>()
let exitHandled = false

/** Has `dir` removed if the process exits with it unused: synchronously then, the only way left. */
function removeAtExit(dir: string): void {
  readyAtExit.add(dir)
  if (exitHandled) return
  exitHandled = true
  process.once('exit', () => {
    for (const spare of readyAtExit) fs.rmSync(spare, { recursive: true, force: true })
  })
}

/** At most one spare container directory of one ContainerStore. */
export class SpareDirs {
  private ready: SpareDir | undefined
  private making: Promise<void> | undefined

  /**
   * @param newDir - the path of a new spare (a create's building name); @param track - background work
   * Runtime.close() waits for; @param discard - removes a spare nobody will use
   */
  constructor(
    private readonly newDir: () => string,
    private readonly track: (work: Promise<void>) => void,
    private readonly discard: (dir: string) => void,
  ) {}

  /** The spare, when one is ready: from now on the caller's. */
  take(): SpareDir | undefined {
    const spare = this.ready
    this.ready = undefined
    if (spare) readyAtExit.delete(spare.dir)
    return spare
  }

  /** Begins making a spare holding `files` (name to content), unless one is ready or under way. */
  refill(files: Record<string, string>): void {
    if (this.ready || this.making) return
    const dir = this.newDir()
    const making = makeSpare(dir, files).then(
      () => {
        this.ready = { dir, files: new Map(Object.entries(files)) }
        removeAtExit(dir)
      },
      (err: Error) => {
        // A root removed meanwhile, a full disk: the next create makes its directory itself.
        debug('spare container directory %s not made: %s', dir, err.message)
        this.discard(dir)
      },
    )
    const settled: Promise<void> = making.finally(() => {
      if (this.making === settled) this.making = undefined
    })
    this.making = settled
    this.track(settled)
  }

  /** Removes the spare once the one under way is made (a runtime that closes makes no more creates). */
  async drop(): Promise<void> {
    await this.making
    const spare = this.take()
    if (spare) this.discard(spare.dir)
  }
}

/** A container directory's skeleton: `upper`, `work` and `files`, made on the threadpool. */
async function makeSpare(dir: string, files: Record<string, string>): Promise<void> {
  await fs.promises.mkdir(dir, { mode: 0o710 })
  await Promise.all([
    fs.promises.mkdir(path.join(dir, 'upper')),
    fs.promises.mkdir(path.join(dir, 'work')),
    ...Object.entries(files).map(([name, content]) => fs.promises.writeFile(path.join(dir, name), content)),
  ])
}
