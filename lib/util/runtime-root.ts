/**
 * A runtime's root directory, checked and made before any store writes in
 * it. Node's `mkdirSync(recursive)` loops forever under /proc (mkdir says
 * ENOENT while the parent exists, so it retries the parent) and throws raw
 * EEXIST, ENOTDIR or TypeError for a file, a path through a file or a NUL;
 * here each bad root is one coded error at once, and nothing is made in it.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { InvalidArgumentError, RuntimeRootError } from '../errors'

/** Makes `dir` and its missing parents, one level at a time (no loop where mkdir keeps failing). */
function makeDirs(dir: string, root: string): void {
  const parent = path.dirname(dir)
  if (parent !== dir && !fs.existsSync(parent)) makeDirs(parent, root)
  try {
    fs.mkdirSync(dir, { mode: 0o711 })
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).code ?? 'EINVAL'
    if (errno !== 'EEXIST' || !fs.statSync(dir).isDirectory()) throw new RuntimeRootError(root, errno)
  }
}

/** Creating and removing a directory in it proves the stores can write there (procfs and read-only mounts cannot). */
function probeWritable(root: string): void {
  try {
    fs.rmdirSync(fs.mkdtempSync(path.join(root, '.mc-probe-')))
  } catch (err) {
    throw new RuntimeRootError(root, (err as NodeJS.ErrnoException).code ?? 'EINVAL')
  }
}

/**
 * The absolute root for `root` (the option, else `$MINICONTAINER_ROOT` when
 * set and not empty, else `fallback`), created when missing and checked
 * writable. EINVALID for an empty or non-string option or a NUL; ENOTDIR,
 * EROFS, EPERM or EINVALID naming the root when it cannot be used.
 */
export function prepareRuntimeRoot(root: unknown, fallback: string): string {
  if (root !== undefined && (typeof root !== 'string' || root === ''))
    throw new InvalidArgumentError(`the runtime root must be a non-empty path, not ${JSON.stringify(root)} (omit it for $MINICONTAINER_ROOT or ${fallback})`)
  const chosen = (root as string | undefined) ?? (process.env.MINICONTAINER_ROOT || fallback)
  if (chosen.includes('\0')) throw new InvalidArgumentError(`the runtime root ${JSON.stringify(chosen)} contains a NUL byte`)
  const dir = path.resolve(chosen)
  makeDirs(dir, dir)
  probeWritable(dir)
  return dir
}
