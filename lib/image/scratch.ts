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
import * as path from 'node:path'
import { removeTreeAt } from '../files/tree'
import { namesOfDeadProcesses, processOwnedName } from '../util/process-owned-names'

/** A fresh scratch name owned by this process. */
export function scratchName(): string {
  return `${processOwnedName('')}-${crypto.randomBytes(8).toString('hex')}`
}

/** Deletes the entries of `dir` left by processes that have exited. */
export function removeStaleScratch(dir: string): void {
  // fd-based: a deep unpack left behind overflows a recursive removal.
  // Scratch of versions before the start time was in the name: `<pid>-<16 hex digits>`.
  for (const name of namesOfDeadProcesses(dir, '', /^(\d+)-[0-9a-f]{16}$/)) removeTreeAt(path.join(dir, name))
}
