/**
 * Names for work in progress (a blob being written, a layer being
 * unpacked): `<pid>-<start time>-<random>` inside a `tmp` directory that
 * readers never look at. A process killed midway leaves its scratch behind;
 * the next store opened on the root removes the scratch of processes that
 * no longer run (a reused pid has another start time, so its new owner's
 * scratch is told apart: ../util/process-owned-names).
 *
 * @module
 */
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { removeTreeAt } from '../files/tree'
import { namesOfDeadProcesses, processOwnedName } from '../util/process-owned-names'
import { processStartTime } from '../util/process-identity'

/** A fresh scratch name owned by this process. */
export function scratchName(): string {
  return `${processOwnedName('')}-${crypto.randomBytes(8).toString('hex')}`
}

/**
 * Scratch named by versions before the start time was in the name
 * (`<pid>-<16 hex digits>`) whose pid no longer runs: without this, what such
 * a version's killed process left would stay forever.
 */
function legacyNamesOfDeadProcesses(dir: string): string[] {
  let names: string[]
  try {
    names = fs.readdirSync(dir)
  } catch {
    return []
  }
  return names.filter((name) => {
    const legacy = /^(\d+)-[0-9a-f]{16}$/.exec(name)
    return !!legacy && processStartTime(Number(legacy[1])) === undefined
  })
}

/** Deletes the entries of `dir` left by processes that have exited. */
export function removeStaleScratch(dir: string): void {
  // fd-based: a deep unpack left behind overflows a recursive removal.
  for (const name of [...namesOfDeadProcesses(dir, ''), ...legacyNamesOfDeadProcesses(dir)]) removeTreeAt(path.join(dir, name))
}
