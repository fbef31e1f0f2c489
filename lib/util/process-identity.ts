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

/**
 * True while the process recorded as (pid, start time) runs. Without a recorded start time it is
 * never alive: the start time was unreadable because the process had already ended (and a gone pid's
 * start time is undefined too, so comparing the two would call it alive).
 */
export function isAlive(pid: number | undefined, start: string | undefined): boolean {
  return !!pid && start !== undefined && processStartTime(pid) === start
}

/** The kernel's PF_EXITING (flags, field 9 of /proc/<pid>/stat): do_exit() is under way. */
const PF_EXITING = 0x4
/** SIGKILL's bit in the pending-signal masks of /proc/<pid>/status. */
const SIGKILL_BIT = 1n << 8n

/**
 * True while the process recorded as (pid, start time) runs and is not on its way out: no SIGKILL
 * pending, not exiting. A SIGKILLed process runs no more code of its own, but it counts for
 * {@link isAlive} until it is a zombie, which can take hundreds of ms under load (a big heap to
 * unmap, threads to end) or forever while it is frozen; the shim's owner watch already takes it
 * for dead then (native/owner.c owner_dying), and so must whoever collects after it.
 */
export function livesOn(pid: number | undefined, start: string | undefined): boolean {
  // One read of /proc/<pid>/stat for both: the same process (start time, not a zombie) and its flags.
  const fields = pid ? statFields(pid) : undefined
  if (!fields || fields[0] === 'Z' || fields[0] === 'X' || fields[19] !== start) return false
  return (Number(fields[6]) & PF_EXITING) === 0 && !sigkillPending(pid!)
}

/** Whether a SIGKILL waits to be taken by the process (its main thread's or the whole group's queue). */
function sigkillPending(pid: number): boolean {
  let status: string
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return true // gone since the stat read
  }
  return [...status.matchAll(/^(?:SigPnd|ShdPnd):\s*([0-9a-f]+)$/gm)].some((m) => (BigInt(`0x${m[1]}`) & SIGKILL_BIT) !== 0n)
}
