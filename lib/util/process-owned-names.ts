/**
 * Names that say which process made them, `<prefix><pid>-<start time>`, for
 * temporary directories a killed process may leave behind: whoever comes
 * next lists the ones whose process no longer runs and removes them.
 *
 * @module
 */
import * as fs from 'node:fs'
import { isAlive, processStartTime, thisProcess, type ProcessIdentity } from './process-identity'

/** `<prefix><pid>-<start>` of this process. */
export function processOwnedName(prefix: string): string {
  const me = thisProcess()
  return `${prefix}${me.pid}-${me.start}`
}

/**
 * The names in `dir` made by {@link processOwnedName} with `prefix` (and any suffix) whose process no longer
 * runs; none when `dir` is missing. `pidOnly` matches names of an older scheme that carried the pid alone (its
 * first group): those count as dead once no process has that pid.
 */
export function namesOfDeadProcesses(dir: string, prefix: string, pidOnly?: RegExp): string[] {
  let names: string[]
  try {
    names = fs.readdirSync(dir)
  } catch {
    return []
  }
  return names.filter((name) => {
    if (!name.startsWith(prefix)) return false
    const rest = name.slice(prefix.length)
    const legacy = pidOnly?.exec(rest)
    if (legacy) return processStartTime(Number(legacy[1])) === undefined
    return ownerIsDead(rest)
  })
}

/** The process a name that begins with `<pid>-<start>` (a {@link processOwnedName} without its prefix) names; undefined for any other name. */
export function ownerOf(name: string): ProcessIdentity | undefined {
  const owner = /^(\d+)-(\d+)(?:-|$)/.exec(name)
  return owner ? { pid: Number(owner[1]), start: owner[2] } : undefined
}

/** Whether a name that begins with `<pid>-<start>` (a {@link processOwnedName} without its prefix) names a process that no longer runs. */
export function ownerIsDead(name: string): boolean {
  const owner = ownerOf(name)
  return !!owner && !isAlive(owner.pid, owner.start)
}
