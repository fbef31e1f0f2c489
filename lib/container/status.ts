/**
 * The container lifecycle as data, as youki's `ContainerStatus` with its
 * `can_start`, `can_kill`...: the statuses a container can be observed in,
 * and for each operation what it gets in each of them — go ahead, nothing to
 * do, or a refusal with its error code. Pure: `observe.ts` finds the status,
 * each operation of `container.ts` asks here and throws the refusal.
 *
 * @module
 */
import { ContainerNotFoundError, NotRunningError, PausedError, RunningError, type MiniContainerError } from '../errors'

/**
 * A container as observed: Docker's statuses ('paused' is a running one the
 * freezer holds, read from its cgroup), and 'removed' for a handle whose
 * container is gone.
 */
export type Status = 'created' | 'running' | 'paused' | 'exited' | 'removed'

/** The operations the lifecycle decides. `forceRemove` is `remove({ force: true })`. */
export type Operation = 'start' | 'kill' | 'stop' | 'pause' | 'unpause' | 'exec' | 'top' | 'stats' | 'update' | 'remove' | 'forceRemove'

/**
 * What an operation gets in a status: `proceed`; `nothing-to-do` (a start
 * of a running container, a stop of a stopped one: they succeed at once);
 * or refused, as the code of the error it throws.
 */
export type Verdict = 'proceed' | 'nothing-to-do' | 'ENOTRUNNING' | 'EPAUSED' | 'ERUNNING' | 'ENOCONTAINER'

const go = 'proceed'
const noop = 'nothing-to-do'

/** The whole lifecycle: every (operation, status) pair. A removed container answers ENOCONTAINER to all of them. */
const table: Record<Operation, Record<Status, Verdict>> = {
  start: { created: go, running: noop, paused: noop, exited: go, removed: 'ENOCONTAINER' },
  kill: { created: 'ENOTRUNNING', running: go, paused: go, exited: 'ENOTRUNNING', removed: 'ENOCONTAINER' },
  stop: { created: noop, running: go, paused: go, exited: noop, removed: 'ENOCONTAINER' },
  pause: { created: 'ENOTRUNNING', running: go, paused: 'EPAUSED', exited: 'ENOTRUNNING', removed: 'ENOCONTAINER' },
  unpause: { created: 'ENOTRUNNING', running: 'EPAUSED', paused: go, exited: 'ENOTRUNNING', removed: 'ENOCONTAINER' },
  // A frozen container cannot take a new process: joining its cgroup would freeze the exec too.
  exec: { created: 'ENOTRUNNING', running: go, paused: 'EPAUSED', exited: 'ENOTRUNNING', removed: 'ENOCONTAINER' },
  top: { created: 'ENOTRUNNING', running: go, paused: go, exited: 'ENOTRUNNING', removed: 'ENOCONTAINER' },
  stats: { created: 'ENOTRUNNING', running: go, paused: go, exited: 'ENOTRUNNING', removed: 'ENOCONTAINER' },
  update: { created: go, running: go, paused: go, exited: go, removed: 'ENOCONTAINER' },
  remove: { created: go, running: 'ERUNNING', paused: 'ERUNNING', exited: go, removed: 'ENOCONTAINER' },
  forceRemove: { created: go, running: go, paused: go, exited: go, removed: 'ENOCONTAINER' },
}

/** What `op` gets in `status`. */
export function verdict(op: Operation, status: Status): Verdict {
  return table[op][status]
}

/** Whether `op` may go ahead in `status` (youki's `can_*`). */
export function can(op: Operation, status: Status): boolean {
  return verdict(op, status) === go
}

/** Whether the program runs in `status` (a paused one runs, frozen, as Docker's `State.Running` says). */
export function runs(status: Status): boolean {
  return status === 'running' || status === 'paused'
}

/** Whether `op`'s answer differs between running and paused: only then is the freezer read. */
export function pauseMatters(op: Operation): boolean {
  return table[op].running !== table[op].paused
}

/** How each operation is named in its refusal ("cannot <action>: container ... is not running"). */
const actions: Record<Operation, string> = {
  start: 'start', kill: 'kill', stop: 'stop', pause: 'pause', unpause: 'unpause', exec: 'exec',
  top: 'list the processes of', stats: 'read stats', update: 'update', remove: 'remove', forceRemove: 'remove',
}

/** Who a refusal names: the container's id (ENOTRUNNING, EPAUSED, ERUNNING) and name (ENOCONTAINER). */
export interface Subject {
  id: string
  name: string
}

/** The error `op` throws in `status`, or undefined when it is not refused. */
export function refusal(op: Operation, status: Status, c: Subject): MiniContainerError | undefined {
  switch (verdict(op, status)) {
    case 'ENOTRUNNING':
      return new NotRunningError(c.id, actions[op])
    case 'EPAUSED':
      return new PausedError(c.id, pausedMessage(op))
    case 'ERUNNING':
      return new RunningError(c.id, actions[op], 'stop it first or pass { force: true }')
    case 'ENOCONTAINER':
      return new ContainerNotFoundError(c.name, 'it was removed')
    default:
      return undefined
  }
}

/** EPAUSED's message, as Docker words each case. */
function pausedMessage(op: Operation): string {
  if (op === 'pause') return 'is already paused'
  if (op === 'unpause') return 'is not paused'
  return `is paused: unpause it before ${actions[op]}`
}

/** Throws `op`'s refusal in `status`; otherwise says whether there is anything to do. */
export function ask(op: Operation, status: Status, c: Subject): 'proceed' | 'nothing-to-do' {
  const refused = refusal(op, status, c)
  if (refused) throw refused
  return verdict(op, status) as 'proceed' | 'nothing-to-do'
}
