/**
 * Small JSON records on disk, written atomically (temp file + rename) so a
 * crash never leaves a torn record for the next process to read.
 * @module
 */
import * as fs from 'node:fs'

/** Reads and parses a JSON file; undefined when it does not exist. */
export function readJson<T>(file: string): T | undefined {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  return JSON.parse(text) as T
}

/** Writes JSON atomically. */
export function writeJson(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(tmp, JSON.stringify(value, null, 1))
  fs.renameSync(tmp, file)
}
