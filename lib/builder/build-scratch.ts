/**
 * Where a build's temporary files go (bind copies, URL downloads, ssh
 * agent sockets; secret files go on a tmpfs instead, secret-files.ts):
 * `<root>/tmp/build-<pid>-<start time>/`, one
 * directory per process, named after its owner. A build removes what it
 * made when its step ends; a build process killed before that (SIGKILL,
 * a jest worker's timeout) leaves its directory, which the next runtime
 * start on the root removes once its owner no longer runs
 * ({@link collectDeadBuildScratch}). Directories of live builds, in this
 * process or another sharing the root, are never touched.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { debug } from '../util/debug'
import { namesOfDeadProcesses, processOwnedName } from '../util/process-owned-names'

const prefix = 'build-'

/** This process's scratch directory on `root` (made, 0700, when missing). */
function scratchDir(root: string): string {
  const dir = path.join(root, 'tmp', processOwnedName(prefix))
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  return dir
}

/** A new, unused path in this process's scratch directory on `root`, named `<kind>-<random>` (not created). */
export function scratchPath(root: string, kind: string): string {
  return path.join(scratchDir(root), `${kind}-${randomBytes(8).toString('hex')}`)
}

/**
 * Removes the scratch directories of build processes that no longer run
 * (with `removeTree`, which may need the rootless keeper for files of
 * subordinate ids); returns how many.
 */
export function collectDeadBuildScratch(root: string, removeTree: (dir: string) => void): number {
  const tmp = path.join(root, 'tmp')
  let removed = 0
  for (const name of namesOfDeadProcesses(tmp, prefix)) {
    try {
      removeTree(path.join(tmp, name))
      removed++
    } catch (err) {
      debug('could not remove the dead build scratch %s: %s', name, (err as Error).message)
    }
  }
  return removed
}
