/**
 * The chain of open directories from a base fd down to the one being worked
 * on, for walks of trees of any depth with a bounded number of open fds.
 *
 * A tree walk that holds every level's fd needs one fd per level (a 10,000
 * deep tree hits RLIMIT_NOFILE), and one that re-resolves each directory from
 * the root costs O(depth) lookups per entry (cubic in depth over a whole
 * chain). This chain holds the deepest {@link WINDOW} levels open, plus
 * checkpoints every `stride` levels above them (at most {@link CHECKPOINTS},
 * the stride doubling as the chain deepens); a level whose fd was closed is
 * reopened from the nearest open ancestor, one name at a time. Walking down
 * and back up a chain of depth d then costs O(d + d²/(WINDOW·CHECKPOINTS))
 * opens (40,000 for d = 10,000) with at most WINDOW + CHECKPOINTS fds.
 *
 * Every level is opened relative to its parent's fd by a single name with
 * O_NOFOLLOW (or by the caller's own confined open), so the chain never
 * leaves the base's tree: an fd held is the directory itself, whatever was
 * renamed meanwhile, and a reopen walks names down from an fd, never a path
 * string resolved from outside.
 *
 * @module
 */
import { O_DIRECTORY, O_NOFOLLOW } from '../sys/libc'
import { close, openat, type Name } from '../sys/fsops'

/** Deepest levels kept open. */
export const WINDOW = 64
/** Most checkpoints kept open above the window. */
export const CHECKPOINTS = 64

/** How a level is opened again: by its name in its parent, or by the caller's own open (e.g. a symlink resolved in a root). */
export type Reopen = (parent: number, name: Name) => number

interface Level {
  name: Name
  fd: number
  reopen?: Reopen
}

/** A stack of directories below `base`; see the module comment. Only {@link top} fds may be used, and only until the next push or pop. */
export class DirChain {
  private readonly levels: Level[] = []
  private stride = 1

  /**
   * @param base - the directory the chain starts from (not owned: never closed here).
   * @param flags - open flags of every level (O_DIRECTORY | O_NOFOLLOW are added).
   */
  constructor(
    private readonly base: number,
    private readonly flags: number,
  ) {}

  /** Levels below the base. */
  get depth(): number {
    return this.levels.length
  }

  /**
   * Opens `name` of the top directory ("" for the top itself, e.g. to reopen
   * an O_PATH base for reading) as the new top, or takes `fd`, opened by the
   * caller (with `reopen` saying how to open it again), which the chain then owns.
   */
  push(name: Name, fd?: number, reopen?: Reopen): void {
    const opened = fd ?? this.open(this.top(), name, undefined)
    this.levels.push({ name, fd: opened, reopen })
    this.trim(this.levels.length - 1 - WINDOW)
  }

  /** Closes the top level. */
  pop(): void {
    const l = this.levels.pop()
    if (l && l.fd >= 0) close(l.fd)
  }

  /** Pops down to `depth` levels. */
  popTo(depth: number): void {
    while (this.levels.length > depth) this.pop()
  }

  /** The top directory's fd (the base when the chain is empty), reopened when it was closed. */
  top(): number {
    const d = this.levels.length
    if (d === 0 || this.levels[d - 1].fd >= 0) return d === 0 ? this.base : this.levels[d - 1].fd
    let from = d - 1
    while (from > 0 && this.levels[from - 1].fd < 0) from--
    for (let i = from; i < d; i++) {
      const l = this.levels[i]
      l.fd = this.open(i === 0 ? this.base : this.levels[i - 1].fd, l.name, l.reopen)
      this.trim(i - 1)
    }
    return this.levels[d - 1].fd
  }

  /** Closes every level. */
  close(): void {
    this.popTo(0)
  }

  private open(parent: number, name: Name, reopen: Reopen | undefined): number {
    if (reopen) return reopen(parent, name)
    return openat(parent, name === '' ? '.' : name, this.flags | O_DIRECTORY | O_NOFOLLOW)
  }

  /** Level `i`, when it lies above the window, keeps its fd only as a checkpoint. */
  private trim(i: number): void {
    if (i < 0 || i >= this.levels.length - WINDOW || this.levels[i].fd < 0) return
    if ((i + 1) % this.stride !== 0) {
      close(this.levels[i].fd)
      this.levels[i].fd = -1
    }
    if (Math.floor((this.levels.length - WINDOW) / this.stride) > CHECKPOINTS) this.widen()
  }

  /** Doubles the stride, closing the checkpoints that fall between the new ones. */
  private widen(): void {
    this.stride *= 2
    for (let i = 0; i < this.levels.length - WINDOW; i++) {
      const l = this.levels[i]
      if (l.fd >= 0 && (i + 1) % this.stride !== 0) {
        close(l.fd)
        l.fd = -1
      }
    }
  }
}
