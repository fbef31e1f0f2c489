/**
 * Names that say which process made them, `<prefix><pid>-<start time>`, for
 * temporary directories a killed process may leave behind: whoever comes
 * next lists the ones whose process no longer runs and removes them.
 *
 * @module
 */
import * as fs from 'node:fs'
import { isAlive, thisProcess } from './process-identity'

/** `<prefix><pid>-<start>` of this process. */
export function processOwnedName(prefix: string): string {
  const me = thisProcess()
  return `${prefix}${me.pid}-${me.start}`
}

/** The names in `dir` made by {@link processOwnedName} with `prefix` (and any suffix) whose process no longer runs; none when `dir` is missing. */
export function namesOfDeadProcesses(dir: string, prefix: string): string[] {
  let names: string[]
  try {
    names = fs.readdirSync(dir)
  } catch {
    return []
  }
  return names.filter((name) => {
    if (!name.startsWith(prefix)) return false
    const owner = /^(\d+)-(\d+)(?:-|$)/.exec(name.slice(prefix.length))
    return !!owner && !isAlive(Number(owner[1]), owner[2])
  })
}
