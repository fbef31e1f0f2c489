/**
 * The build context as COPY sees it: a directory, its `.dockerignore`, and
 * the sources a COPY selects. A source path is resolved inside the context
 * with openat2(RESOLVE_IN_ROOT), as BuildKit clamps `..` and symlinks to
 * the context; below it nothing is followed (symlinks are copied as links).
 * Each selected entry carries what the cache key hashes: its name, type,
 * mode and link target (never its mtime); a file's bytes are never held:
 * the source keeps its top open, and a file is opened below it when it is
 * hashed or copied (streamed, so a COPY's memory does not grow with its files).
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { InvalidArgumentError, NotFoundError, SyscallError } from '../errors'
import { AT_FDCWD, O_CLOEXEC, O_DIRECTORY, O_NOFOLLOW, O_PATH, RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_SYMLINKS, openat2, openFd } from '../sys/libc'
import { O_RDONLY, close } from '../sys/fsops'
import { statIdentity } from './file-hash-memo'
import { IgnoreRules, cleanPattern, isGlob, patternRegex } from './patterns'

/** One file, directory or link a COPY copies. */
export interface SourceEntry {
  /** Path below the selected source ("" for the source itself). */
  readonly rel: string
  readonly type: 'file' | 'directory' | 'symlink'
  /** Permission bits (07777). */
  readonly mode: number
  readonly mtime: Date
  /** A file's size in bytes (0 for directories and links). */
  readonly size: number
  /** A link's target. */
  readonly link?: string
  /** A build context file's stat identity, under which its hash is remembered (none for files read from a stage's layers). */
  readonly identity?: { readonly key: string; readonly ctimeMs: number }
}

/** A selected source: its name in the context and its entries (a directory's whole tree). */
export interface Source {
  /** Context-relative path ("" for the context root). */
  readonly path: string
  readonly entries: SourceEntry[]
  /** Opens a file entry (by its `rel`) for reading, following no symlink below the source; the caller closes the fd with closeQuietly (it is not fs-opened). */
  open(rel: string): number
}

/** An opened build context. */
export class BuildContext {
  private readonly ignore: IgnoreRules
  /** The sources' top fds, open until {@link close} (their files are read after selection). */
  private readonly held: number[] = []

  /**
   * @param dir - the context directory (absolute)
   * @param ignoreText - the `.dockerignore` rules
   */
  constructor(
    readonly dir: string,
    ignoreText: string,
  ) {
    this.ignore = new IgnoreRules(ignoreText)
  }

  /** Opens `dir` with its `<dockerfile>.dockerignore`, else `.dockerignore`. */
  static open(dir: string, dockerfile?: string): BuildContext {
    const abs = path.resolve(dir)
    if (!fs.statSync(abs, { throwIfNoEntry: false })?.isDirectory()) throw new InvalidArgumentError(`build context ${abs} is not a directory: pass the directory holding the files COPY reads`)
    const candidates = [...(dockerfile ? [`${dockerfile}.dockerignore`] : []), path.join(abs, '.dockerignore')]
    const file = candidates.find((f) => fs.existsSync(f))
    return new BuildContext(abs, file ? fs.readFileSync(file, 'utf8') : '')
  }

  /** The sources one COPY source argument selects (a glob may select several); ENOTFOUND when none. */
  select(source: string): Source[] {
    const clean = cleanPattern(source)
    if (!isGlob(clean)) return [this.one(clean, source)]
    const re = patternRegex(clean)
    const found = this.walk('').filter((rel) => re.test(rel))
    if (!found.length) throw new NotFoundError(`failed to compute cache key: failed to calculate checksum of ref: "/${clean}": not found (no file in the build context ${this.dir} matches it, or .dockerignore excludes it)`)
    return found.map((rel) => this.one(rel, source))
  }

  private one(rel: string, written: string): Source {
    if (rel && this.ignore.ignores(rel)) throw notFound(written, `it is excluded by .dockerignore: add an exception (!${rel}) or remove the rule`)
    let fd: number
    try {
      fd = openat2(this.rootFd(), rel || '.', O_PATH | O_CLOEXEC, 0, RESOLVE_IN_ROOT)
    } catch (err) {
      if (err instanceof SyscallError) throw notFound(written, `it does not exist in the build context ${this.dir}: sources are relative to the context, not to the Dockerfile`)
      throw err
    }
    this.held.push(fd)
    return { path: rel, entries: this.entries(`/proc/self/fd/${fd}`, rel), open: (below) => openBelow(fd, below) }
  }

  private rootFdCache: number | undefined

  private rootFd(): number {
    this.rootFdCache ??= openat2(AT_FDCWD, this.dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0)
    return this.rootFdCache
  }

  /** Releases the context's directory fd and the selected sources' fds. */
  close(): void {
    for (const fd of this.held.splice(0)) close(fd)
    if (this.rootFdCache !== undefined) close(this.rootFdCache)
    this.rootFdCache = undefined
  }

  /** The entries of an opened source (through its fd path; the top is followed, nothing below it). */
  private entries(top: string, rel: string): SourceEntry[] {
    const st = fs.statSync(top)
    if (!st.isDirectory()) return [this.entryOf(top, '', st)]
    const out: SourceEntry[] = [this.entryOf(top, '', st)]
    const visit = (dir: string, sub: string): void => {
      for (const name of fs.readdirSync(dir).sort()) {
        const childRel = sub ? `${sub}/${name}` : name
        const ctxRel = rel ? `${rel}/${childRel}` : childRel
        const abs = `${dir}/${name}`
        const lst = fs.lstatSync(abs)
        const ignored = this.ignore.ignores(ctxRel)
        if (!ignored) out.push(this.entryOf(abs, childRel, lst))
        if (lst.isDirectory() && (!ignored || this.ignore.hasExceptions())) visit(abs, childRel)
      }
    }
    visit(top, '')
    return out
  }

  /** A file's entry carries its stat identity, for its hash to be remembered: a context is a real directory (a throwaway overlay, whose device and inode numbers are reused, is read as layers instead). */
  private entryOf(abs: string, rel: string, st: fs.Stats): SourceEntry {
    const e = entryOf(abs, rel, st)
    return e.type === 'file' ? { ...e, identity: { key: statIdentity(st), ctimeMs: st.ctimeMs } } : e
  }

  /** Every context-relative path not ignored (for glob sources). */
  private walk(sub: string): string[] {
    const out: string[] = []
    const dir = sub ? path.join(this.dir, sub) : this.dir
    for (const name of fs.readdirSync(dir).sort()) {
      const rel = sub ? `${sub}/${name}` : name
      const ignored = this.ignore.ignores(rel)
      if (!ignored) out.push(rel)
      if (fs.lstatSync(path.join(this.dir, rel)).isDirectory() && (!ignored || this.ignore.hasExceptions())) out.push(...this.walk(rel))
    }
    return out
  }
}

/** ENOTFOUND for a COPY source, in BuildKit's words and why. */
export function notFound(source: string, why: string): NotFoundError {
  return new NotFoundError(`failed to compute cache key: failed to calculate checksum of ref: "/${cleanPattern(source)}": not found (${why})`)
}

/** Opens the file `rel` below the O_PATH fd `top` ('' is the top itself) for reading (close it with closeQuietly); a symlink on the way is not followed. */
function openBelow(top: number, rel: string): number {
  if (rel === '') return openFd(`/proc/self/fd/${top}`, O_RDONLY)
  return openat2(top, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
}

/** A source entry from its (l)stat; `abs` names it in errors, `readlink` reads a link's target (by default at `abs`). */
export function entryOf(abs: string, rel: string, st: fs.Stats, readlink = () => fs.readlinkSync(abs)): SourceEntry {
  const base = { rel, mode: st.mode & 0o7777, mtime: st.mtime, size: st.isFile() ? st.size : 0 }
  if (st.isSymbolicLink()) return { ...base, type: 'symlink', link: readlink() }
  if (st.isDirectory()) return { ...base, type: 'directory' }
  if (!st.isFile()) throw new InvalidArgumentError(`${abs}: COPY copies files, directories and symlinks; this is a device, socket or FIFO`)
  return { ...base, type: 'file' }
}
