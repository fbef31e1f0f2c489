/**
 * A process as recorded on disk so that any other process can tell whether
 * it still runs: its pid plus its start time (a reused pid has another one).
 * Containers record their program and owner this way; networks their creator.
 *
 * @module
 */
import * as fs from 'node:fs'

/** A process as recorded: its pid and start time, so a reused pid is not taken for it. */
export interface ProcessIdentity {
  /** Its pid. */
  pid: number
  /** Its start time (field 22 of /proc/<pid>/stat). */
  start: string
}

/** The fields of /proc/<pid>/stat after the command name (state first), or undefined when there is no such process. */
export function statFields(pid: number): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}

/** Start time of a pid (field 22 of /proc/<pid>/stat), or undefined when there is no such process. */
export function processStartTime(pid: number): string | undefined {
  const fields = statFields(pid)
  if (!fields || fields[0] === 'Z' || fields[0] === 'X') return undefined
  return fields[19]
}

let self: ProcessIdentity | undefined

/** This Node process, as {@link isAlive} recognises it. */
export function thisProcess(): ProcessIdentity {
  return (self ??= { pid: process.pid, start: processStartTime(process.pid) ?? '' })
}

/** True while the process recorded as (pid, start time) runs. */
export function isAlive(pid: number | undefined, start: string | undefined): boolean {
  return !!pid && processStartTime(pid) === start
}
