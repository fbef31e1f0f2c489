/**
 * Host-wide owner records: a directory of small files, each named after
 * what it claims and holding who owns it (subnet claims, cgroup scopes).
 * Readers list them to collect the ones whose owner is gone.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

/** One record of an owner-record directory. */
export interface OwnerRecord {
  /** The file's name: what is claimed. */
  name: string
  /** The file's path. */
  file: string
  /** Its content: who claims it. */
  owner: string
  /** Milliseconds since it was written. */
  ageMs: number
}

/** The records in `dir`: none when it does not exist yet; one removed while listing is skipped. */
export function ownerRecords(dir: string): OwnerRecord[] {
  let names: string[]
  try {
    names = fs.readdirSync(dir)
  } catch {
    return []
  }
  const records: OwnerRecord[] = []
  for (const name of names) {
    const file = path.join(dir, name)
    try {
      records.push({ name, file, owner: fs.readFileSync(file, 'utf8'), ageMs: Date.now() - fs.statSync(file).mtimeMs })
    } catch {
      // Released meanwhile by its owner.
    }
  }
  return records
}
