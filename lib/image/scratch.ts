/**
 * Names for work in progress (a blob being written, a layer being
 * unpacked): `<pid>-<random>` inside a `tmp` directory that readers never
 * look at. A process killed midway leaves its scratch behind; the next store
 * opened on the root removes the scratch of processes that no longer exist.
 *
 * @module
 */
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { removeTreeAt } from '../files/tree'

/** A fresh scratch name owned by this process. */
export function scratchName(): string {
  return `${process.pid}-${crypto.randomBytes(8).toString('hex')}`
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return false
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH'
  }
}

/** Deletes the entries of `dir` left by processes that have exited. */
export function removeStaleScratch(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    const pid = Number(name.split('-')[0])
    if (Number.isInteger(pid) && pid > 0 && processGone(pid)) removeTreeAt(path.join(dir, name)) // fd-based: a deep unpack left behind overflows a recursive removal
  }
}
