/**
 * The running → exited transition, written once: whoever learns of an exit
 * (the shim of this process, a process finding the program gone, a start
 * that failed, a removal) records it here and releases the same things. A
 * run holds on the host its cgroup (with its stats marks) and its network
 * (veths, addresses, published ports' nf_tables rules); the log follower and
 * the health monitor end with the shim.
 *
 * @module
 */
import type { ExitStatus } from '../shim/shim'
import type { ContainerContext } from './context'
import { releaseContainerNetwork } from './networking'
import { joinsNetworks } from '../network/network-mode'
import type { ContainerState } from './types'

/**
 * The recorded end of a program: its exit status and when it ended (ISO 8601); `oomKills`, the OOM
 * killer's kills in its cgroup as its shim read them at the exit (Shim.exitOomKills), else read here.
 */
export type RecordedExit = ExitStatus & { finishedAt: string; oomKills?: number }

/**
 * Releases what a run holds on the host: its cgroup and its network.
 * Idempotent, and never rejects (it runs unawaited when a program exits):
 * a failure becomes a process warning, and the next collection retries.
 * The network's release is queued at once, so a network connect asked for
 * after this call (a run of the same name once wait() answered) comes after
 * it; the cgroup's removal (synchronous rmdirs, one per controller on v1)
 * waits a turn of the event loop, so that the exit is reported first. `networkMode`, when the
 * caller has the record: a container of a mode that joins no networks (none, host, container:) has
 * nothing to release there, and skips the look (its endpoint's file, the networks' records and,
 * once the runtime has a network, a dump of its nf_tables rules) on the way to wait()'s answer.
 * `exited`: the release of a run that was running until its exit was settled now (its cgroup is there: CgroupService.release).
 */
export async function releaseRun(ctx: ContainerContext, id: string, networkMode?: string, exited = false): Promise<void> {
  const network = networkMode === undefined || joinsNetworks(networkMode) ? releaseContainerNetwork(ctx, id) : undefined
  await new Promise(setImmediate)
  try {
    await ctx.cgroups.release(id, exited)
  } catch (err) {
    process.emitWarning(`minicontainer: releasing the cgroup of container ${id.slice(0, 12)} failed: ${(err as Error).message}`)
  }
  await network
}

/**
 * Releases started by {@link settleExit}, per runtime and container, until they end: stop() waits
 * for them (close() too, through the store's removals), so that what a run held is given back when
 * they resolve (a rootless runtime's published port is a relay process, whose host port is free
 * only once the release ended it).
 */
const releasing = new WeakMap<ContainerContext, Map<string, Promise<void>>>()

function trackRelease(ctx: ContainerContext, id: string, release: Promise<void>): void {
  const own = releasing.get(ctx) ?? new Map<string, Promise<void>>()
  releasing.set(ctx, own)
  own.set(id, release)
  void release.then(() => {
    if (own.get(id) === release) own.delete(id)
  })
}

/** Resolves once the release of `id`'s last settled run has ended (at once when none is under way). */
export function runReleased(ctx: ContainerContext, id: string): Promise<void> {
  return releasing.get(ctx)?.get(id) ?? Promise.resolve()
}

/**
 * Records that the program of `id` ended with `exit`, and releases its run
 * ({@link releaseRun}, unawaited: {@link runReleased} waits for it). Only a state still "running" (with `pid`
 * when given: that run, not a later one) changes; the state as it now is is
 * returned. The OOM counter is read before the cgroup goes (by the shim, at the exit, when it could): the kernel's
 * word, not a guess from exit code 137. `networkMode` as {@link releaseRun}'s.
 */
export function settleExit(ctx: ContainerContext, id: string, exit: RecordedExit, pid?: number, networkMode?: string): ContainerState {
  const state = ctx.containers.readState(id)
  if (state.status !== 'running' || (pid !== undefined && state.pid !== pid)) return state
  const exited: ContainerState = {
    ...state,
    status: 'exited',
    exitCode: exit.exitCode,
    signal: exit.signal,
    finishedAt: exit.finishedAt,
    oomKilled: exit.oomKills !== undefined ? exit.oomKills > 0 : ctx.cgroups.oomKilled(id),
  }
  try {
    ctx.containers.writeState(id, exited)
  } catch (err) {
    // Removed meanwhile (its directory is gone): the removal releases the run too.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  // Not awaited (the exit is reported first): stop() waits for it (runReleased), Runtime.close() for all.
  const release = releaseRun(ctx, id, networkMode, true)
  trackRelease(ctx, id, release)
  void ctx.containers.removals.track(release)
  return exited
}
