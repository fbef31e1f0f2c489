/**
 * Runs a jest project of the repository (an example) as CI would: its own
 * jest, on the runtime root `root` (MINICONTAINER_ROOT), from the repository
 * root; resolves with its exit code and its whole output.
 */
import { execFile } from 'node:child_process'
import * as path from 'node:path'

import { repoRoot } from './repo-root'

/** `jest -c <config> ...args` in the repository; never rejects. */
export function runJestProject(config: string, root: string, args: string[] = []): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const jest = path.join(repoRoot, 'node_modules/jest/bin/jest.js')
    execFile(process.execPath, [jest, '-c', config, ...args], { cwd: repoRoot, env: { ...process.env, MINICONTAINER_ROOT: root }, timeout: 240_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr })
    })
  })
}
