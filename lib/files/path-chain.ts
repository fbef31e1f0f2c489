/**
 * Directories opened by path inside a base directory, one component at a
 * time from the last path opened: a sequence of paths in tree order (the
 * entries of an archive, or its directories in reverse) then costs the
 * components that changed between neighbours, not a resolution of each whole
 * path from the base (cubic in the depth over a deep chain, and ENAMETOOLONG
 * past 4,095 bytes), with the bounded fds of a {@link DirChain}.
 *
 * Reusing the levels is safe because callers only change the children of
 * the directory they opened, never it or its ancestors: an entry that
 * replaces a directory on the path (a symlink, a whiteout) has another parent
 * itself, so it moves this chain away before any later path is opened
 * through a stale directory.
 *
 * @module
 */
import { O_DIRECTORY, openat2 } from '../sys/libc'
import { mkdirat } from '../sys/fsops'
import { DirChain } from './dir-chain'
import { isDir, isLink, lstatAt } from './resolve'

/** How a {@link PathChain} treats what it finds on the way. */
export interface PathChainOptions {
  /** Open flags of every level (O_PATH to write entries below, O_RDONLY to set a level's metadata). */
  flags: number
  /** openat2 resolve flags a symlink on the way is resolved with, from the base (so it stays inside it, or fails with ELOOP). */
  resolve: number
  /** Missing directories are made (mode 0755) and reported here; without it a missing one fails with ENOENT. */
  made?: (rel: string) => void
}

/** The error for a non-directory on the way to a path (symlinks included); without it a symlink is resolved with `resolve`. */
export type NotDir = (rel: string) => Error

/** See the module comment. */
export class PathChain {
  private readonly chain: DirChain
  /** The components of the chain's levels, and each level's path from the base. */
  private parts: string[] = []
  private rels: string[] = []

  /** @param base - the directory paths start from (not owned: never closed here). */
  constructor(
    private readonly base: number,
    private readonly opts: PathChainOptions,
  ) {
    this.chain = new DirChain(base, opts.flags)
  }

  /** An fd of the directory `parts` ([] for the base); owned by the chain, valid until the next open. */
  open(parts: string[], notDir?: NotDir): number {
    let same = 0
    while (same < parts.length && same < this.parts.length && parts[same] === this.parts[same]) same++
    this.chain.popTo(same)
    this.parts.length = same
    this.rels.length = same
    for (let i = same; i < parts.length; i++) this.descend(parts[i], notDir)
    return this.chain.top()
  }

  /** Pushes `name` below the top level, made when missing (with `made`); a symlink is resolved from the base with `resolve`. */
  private descend(name: string, notDir: NotDir | undefined): void {
    const d = this.rels.length
    const rel = d === 0 ? name : `${this.rels[d - 1]}/${name}`
    const st = lstatAt(this.chain.top(), name)
    if (!st && this.opts.made) {
      mkdirat(this.chain.top(), name, 0o755)
      this.opts.made(rel)
    } else if (st && !isDir(st) && notDir) throw notDir(rel)
    if (!st || !isLink(st)) this.chain.push(name)
    else {
      const inBase = () => openat2(this.base, rel, this.opts.flags | O_DIRECTORY, 0, this.opts.resolve)
      this.chain.push(name, inBase(), inBase)
    }
    this.parts.push(name)
    this.rels.push(rel)
  }

  /** Closes every level. */
  close(): void {
    this.chain.close()
    this.parts = []
    this.rels = []
  }
}
