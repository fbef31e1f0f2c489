/**
 * A layer's small files, written on the threadpool a few at once while this
 * thread reads the next entries. A pull is bound by this thread, and on a
 * filesystem without a journal that has just deleted many files (ext4 then
 * scans past recently deleted inodes) creating a file cost ~0.3 ms of it:
 * a sixth of a pull's main-thread CPU for 800 small files.
 *
 * Writes in flight all go into one parent directory, under distinct names:
 * an entry elsewhere, of another kind, or of a name in flight waits for them
 * first ({@link PendingFileWrites.settle}), so that links, whiteouts,
 * replacements and directory metadata see every earlier file, and the
 * parent's fd (the path chain's, closed when it moves) outlives the writes.
 *
 * @module
 */
import { writeFileAsync, type FileMeta } from '../sys/fsops'

/** Writes in flight at most: enough to overlap the threadpool with this thread, few enough to bound the bytes held. */
const MAX_IN_FLIGHT = 8

/** See the module comment. */
export class PendingFileWrites {
  private readonly inFlight = new Set<Promise<void>>()
  /** Names in flight, and the directory (path from the layer's root) they go into. */
  private readonly names = new Set<string>()
  private parent = ''
  private failure: unknown

  /** Whether a file `name` in `parent` may be written beside those in flight (same directory, another name). */
  mayJoin(parent: string, name: string): boolean {
    return this.inFlight.size === 0 || (parent === this.parent && !this.names.has(name))
  }

  /** Starts writing `data` as `name` in the open directory `pfd` (at `parent`); waits while too many are in flight. */
  async add(pfd: number, parent: string, name: string, data: Buffer, meta: FileMeta): Promise<void> {
    this.throwFailure()
    if (parent !== this.parent) this.names.clear()
    this.parent = parent
    this.names.add(name)
    const write: Promise<void> = writeFileAsync(pfd, name, data, meta).then(
      () => void this.inFlight.delete(write),
      (err) => {
        this.failure ??= err
        this.inFlight.delete(write)
      },
    )
    this.inFlight.add(write)
    if (this.inFlight.size >= MAX_IN_FLIGHT) await Promise.race(this.inFlight)
    this.throwFailure()
  }

  /** Waits for every write in flight; throws the first failure. */
  async settle(): Promise<void> {
    await Promise.all(this.inFlight)
    this.names.clear()
    this.throwFailure()
  }

  /** Waits for every write in flight, whatever they did (before their directories' fds close on a failure). */
  async drain(): Promise<void> {
    await Promise.all(this.inFlight)
  }

  private throwFailure(): void {
    if (this.failure) throw this.failure
  }
}
