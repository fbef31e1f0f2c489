/**
 * Tests that run the built package (dist/) as a user would: they fail at once,
 * saying what to run, when dist/ is missing or older than lib/ (a stale build
 * gives errors that point nowhere).
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import { repoRoot } from './repo-root'

/** The newest modification time of the files under `dir`. */
function newestUnder(dir: string): number {
  return Math.max(0, ...fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => fs.statSync(path.join(e.parentPath, e.name)).mtimeMs))
}

/** Throws unless `built` (a file of dist/) exists and is newer than every file of lib/. */
export function requireFreshBuild(built: string): void {
  const file = path.join(repoRoot, built)
  const builtAt = fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0
  if (builtAt < newestUnder(path.join(repoRoot, 'lib'))) throw new Error(`${built} is missing or older than lib/: run \`npm run build\` first`)
}
