/**
 * The one place that finds a container's status: its record and saved
 * state on disk, reconciled with the kernel (does its program still run?)
 * and with this process's shims. A "running" container whose program is
 * gone has exited: the first to see it records the exit (exit.ts), from the
 * exit file the shim wrote, else as killed (a shim killed outright writes none).
 *
 * @module
 */
import type { ContainerContext } from './context'
import { settleExit } from './exit'
import { programRuns, readExitFile } from './liveness'
import type { Status } from './status'
import type { ContainerRecord, ContainerState } from './types'

/** What {@link observe} found. */
export interface Observation {
  /** The status to ask the lifecycle with (status.ts). */
  status: Status
  /** The saved state, an exit found meanwhile recorded; `pid` is the program's while it runs. */
  state: ContainerState
  /** The record, when it was asked for (and the container is not removed). */
  record?: ContainerRecord
}

/** What an observation reads beyond the state: each is a file read, so only when the caller's answer depends on it. */
export interface ObserveWants {
  /** Read the record: a removed container is then 'removed' (without it, a removed one looks 'created'). */
  record?: boolean
  /** Read the freezer: a frozen running container is then 'paused'. */
  freezer?: boolean
}

/** The status of container `id` now. */
export function observe(ctx: ContainerContext, id: string, wants: ObserveWants = {}): Observation {
  const record = wants.record ? ctx.containers.read(id) : undefined
  if (wants.record && !record) return { status: 'removed', state: { status: 'exited' } }
  let state = ctx.containers.readState(id)
  if (state.status === 'running' && !programRuns(ctx, id, state)) state = settleUnwatchedExit(ctx, id, state)
  return { status: statusOf(ctx, id, state, !!wants.freezer), state, ...(record ? { record } : {}) }
}

/** A program that ended with no shim of this process watching: the exit its shim wrote, else a SIGKILL now. */
function settleUnwatchedExit(ctx: ContainerContext, id: string, state: ContainerState): ContainerState {
  const exit = readExitFile(ctx.containers.paths(id).exit) ?? { exitCode: 137, signal: 'SIGKILL' as const, finishedAt: new Date().toISOString() }
  return settleExit(ctx, id, exit, state.pid)
}

/** The lifecycle status of a reconciled state ('paused' is never saved: the freezer tells, when read). */
function statusOf(ctx: ContainerContext, id: string, state: ContainerState, freezer: boolean): Status {
  if (state.status !== 'running') return state.status === 'created' ? 'created' : 'exited'
  return freezer && ctx.cgroups.paused(id) ? 'paused' : 'running'
}
