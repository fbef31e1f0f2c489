// Shared set-up for the storage tests: a private runtime root per test, always removed.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { randomBytes } from 'node:crypto'

/** A fresh runtime root under /tmp; remove it with `cleanup()`. */
export function tempRoot(): { root: string; cleanup: () => void } {
  const root = fs.mkdtempSync('/tmp/mc-vol-')
  return { root, cleanup: () => fs.rmSync(root, { recursive: true, force: true, maxRetries: 5 }) }
}

/** A name no other test (or parallel test file) uses. */
export function uniqueName(prefix = 'v'): string {
  return `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`
}

/** Writes a file, creating its parents. */
export function put(file: string, content = '', mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, content, { mode })
  fs.chmodSync(file, mode)
}
