/**
 * A runtime's start and end as the container layer sees them: collecting
 * what a crashed process left (once per process, like a daemon's recovery),
 * and stopping the containers this process owns when the runtime closes.
 *
 * @module
 */
import { removeAnonymousVolumes } from '../storage/mount-lifecycle'
import { signalQuietly } from '../sys/signal-quietly'
import { debug } from '../util/debug'
import type { ContainerContext } from './context'
import { livesOn, programRuns, START_GRACE_MS } from './liveness'
import type { ContainerRecord } from './types'
import { observe } from './observe'
import { networkStillWanted } from './networking'

/** How old an unfinished create must be before it is taken for the remains of a crash. */
const UNFINISHED_CREATE_MS = 60_000

/**
 * How long a runtime start waits for containers still dying with their dead owner: they end within
 * ~100 ms of it (test/container/owner-death), but a run started right after a Ctrl-C would find them
 * running, leave them, and nothing would collect them before the following start.
 */
const DYING_WAIT_MS = 2_000

/**
 * Removes what dead processes left: network rules and interfaces of
 * containers no longer running, their cgroups, exited auto-remove
 * containers, containers whose owner died, unfinished creates.
 */
export async function collectGarbage(ctx: ContainerContext): Promise<void> {
  // Read once for both passes: garbage() observes each one's state afresh after the wait.
  const records = ctx.containers.ids().flatMap((id) => ctx.containers.read(id) ?? [])
  await awaitDying(ctx, records)
  for (const record of records) {
    const why = garbage(ctx, record)
    if (!why) continue
    debug('gc: removing %s container %s', why, record.id.slice(0, 12))
    ctx.containers.deleteUnattended(record.id, record.name)
    await removeAnonymousVolumes(record.mounts ?? [], ctx.volumes).catch(() => {})
  }
  // Rules and interfaces of containers whose owner died must not keep intercepting traffic. After the
  // removals above: a container removed there (its owner killed mid-start, its network state saved
  // moments ago and so still "wanted") would otherwise keep its endpoint, and its network stay in use.
  await ctx.networks.gc((id) => networkStillWanted(ctx, id))
  await ctx.containers.emptyTrash()
  // Cgroups of containers that ended while no process watched them (a crash, a detached exit); busy ones stay.
  // A container's cgroup is made just before its program starts: a young one of an existing container
  // may be another process's start in progress, and removing it would fail that start.
  // A pre-started container (another process's, kept for its next run) is no container yet, and runs nothing yet.
  ctx.cgroups.collect((id, ageMs) => isRunning(ctx, id) || (ageMs < START_GRACE_MS && !!ctx.containers.read(id)) || ctx.containers.prestartHeld(id))
  // Scopes of runtimes whose process ended without close() and whose root is gone.
  ctx.cgroups.collectAbandoned()
  for (const id of ctx.containers.unfinished()) if (ctx.containers.abandoned(id, UNFINISHED_CREATE_MS)) ctx.containers.delete(id)
}

/**
 * Why a container is garbage, if it is: an exited auto-remove one; an owned one (not detached, not
 * kept) whose owner died (Ctrl-C, a crash: it died with it, or was never started) and that does not run.
 */
function garbage(ctx: ContainerContext, record: ContainerRecord): 'auto-remove' | 'orphaned' | undefined {
  const h = record.hostConfig
  if (h.autoRemove) return hasExited(ctx, record.id) ? 'auto-remove' : undefined
  if (h.detach || h.keepOnOwnerDeath) return undefined
  const seen = observe(ctx, record.id)
  if (seen.status !== 'exited' && seen.status !== 'created') return undefined
  const owner = seen.state.owner ?? record.owner
  // Records made before owners were kept have none: they stay, as they always did. An owner with its
  // SIGKILL pending is dead here as it is to the shim, which has killed the container already.
  return owner && !livesOn(owner.pid, owner.start) ? 'orphaned' : undefined
}

/** Waits (up to DYING_WAIT_MS) until no container that dies with its owner still runs after that owner died. */
async function awaitDying(ctx: ContainerContext, records: ContainerRecord[]): Promise<void> {
  let dying = records.filter((record) => diesWithDeadOwner(ctx, record)).map((record) => record.id)
  const deadline = Date.now() + DYING_WAIT_MS
  while (dying.length && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    dying = dying.filter((id) => isRunning(ctx, id))
  }
}

/** An owned (not detached) container that still runs although the process owning it died: it is being killed with it. */
function diesWithDeadOwner(ctx: ContainerContext, record: ContainerRecord): boolean {
  if (record.hostConfig.detach || ctx.shims.has(record.id)) return false
  const state = ctx.containers.readState(record.id)
  const owner = state.owner ?? record.owner
  return !!owner && !livesOn(owner.pid, owner.start) && programRuns(ctx, record.id, state)
}

/** Whether a container's recorded process runs (from any process's point of view). */
export function isRunning(ctx: ContainerContext, id: string): boolean {
  return programRuns(ctx, id, ctx.containers.readState(id))
}

/** Whether a container ran and is over (a "running" one whose process is gone counts, and its exit is recorded now). */
function hasExited(ctx: ContainerContext, id: string): boolean {
  return observe(ctx, id).status === 'exited'
}

/** Kills the containers this process started without `detach`, and waits until their shims are gone. */
export async function stopOwnedContainers(ctx: ContainerContext): Promise<void> {
  const owned = [...ctx.shims].filter(([id]) => !ctx.containers.read(id)?.hostConfig.detach)
  await Promise.all(
    owned.map(async ([id, shim]) => {
      const { pid } = ctx.containers.readState(id)
      if (pid) signalQuietly(pid, 'SIGKILL')
      await shim.hold(shim.closed)
    }),
  )
}
