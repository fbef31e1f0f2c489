/**
 * Where a RUN's secret files are staged: a directory of their own (0700,
 * random name) on a tmpfs, never the runtime root's disk, as BuildKit keeps
 * them in memory: $XDG_RUNTIME_DIR for a rootless build when it is a tmpfs,
 * else /dev/shm. The RUN binds the file from there; the directory goes as
 * soon as the RUN's program runs (the bind keeps the file for it). One left
 * by a build killed before that is named after its process, and the next
 * runtime start removes it once that process no longer runs
 * ({@link collectDeadSecretDirs}).
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { BuildUnsupportedError } from './errors'
import { debug } from '../util/debug'
import { namesOfDeadProcesses, processOwnedName } from '../util/process-owned-names'

/** A secret directory's name: the prefix, its process's pid and start time, mkdtemp's random part. */
const prefix = 'minicontainer-secret-'

/** statfs f_type of tmpfs and ramfs: file systems held in memory only. */
const inMemory = new Set([0x01021994, 0x858458f6])

/** The in-memory directories a secret may go in, best first. */
function candidates(rootless: boolean): string[] {
  const runtimeDir = process.env.XDG_RUNTIME_DIR
  return [...(rootless && runtimeDir && path.isAbsolute(runtimeDir) ? [runtimeDir] : []), '/dev/shm']
}

function isInMemory(dir: string): boolean {
  try {
    return inMemory.has(fs.statfsSync(dir).type)
  } catch {
    return false
  }
}

/** A new directory (0700, only this process's) on a tmpfs for one RUN's secret files; EUNSUPPORTED when there is no tmpfs to use. */
export function makeSecretDir(rootless: boolean): string {
  const parent = candidates(rootless).find(isInMemory)
  if (!parent) throw new BuildUnsupportedError('RUN --mount=type=secret', `no tmpfs to keep the secret in (tried ${candidates(rootless).join(', ')}); mount a tmpfs on /dev/shm${rootless ? ' or set XDG_RUNTIME_DIR to a tmpfs directory of yours' : ''}`)
  // mkdtemp: a fresh name made 0700 by us, so nothing another user put in /dev/shm beforehand is used.
  return fs.mkdtempSync(path.join(parent, `${processOwnedName(prefix)}-`))
}

/** Removes the secret directories, ours, of build processes that no longer run; returns how many. */
export function collectDeadSecretDirs(rootless: boolean): number {
  let removed = 0
  for (const parent of candidates(rootless).filter(isInMemory)) {
    for (const name of namesOfDeadProcesses(parent, prefix)) {
      const dir = path.join(parent, name)
      try {
        const st = fs.lstatSync(dir)
        if (!st.isDirectory() || st.uid !== process.getuid!()) continue // another user's
        fs.rmSync(dir, { recursive: true, force: true })
        removed++
      } catch (err) {
        debug('could not remove the dead build secret directory %s: %s', dir, (err as Error).message)
      }
    }
  }
  return removed
}
