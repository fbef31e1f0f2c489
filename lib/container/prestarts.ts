/**
 * Pre-started containers: for a run shape this process runs again and again
 * (a test suite's throwaway containers, a sandbox's jobs), one container is
 * set up ahead of the run that claims it: its directory, cgroup, namespaces,
 * overlay and every mount, up to the process (native/prestart.h). A run of
 * that shape then only sends its process; the rest of a start's work has been
 * done while the process had nothing better to do.
 *
 * A pre-started container is no container until claimed: its directory holds
 * its owner instead of a config (ContainerStore.createPrestarted), so list,
 * get, prune and names never see it, and the next recovery on the root
 * removes it once its owner has died (its shim, watching the owner, has
 * ended it by then). At most {@link maxShapes} shapes are kept, one container
 * each, each for at most {@link idleMs}; close() ends them, and so does the
 * process's exit.
 *
 * @module
 */
import * as fs from 'node:fs'
import { debug } from '../util/debug'
import { signalQuietly } from '../sys/signal-quietly'
import type { Shim } from '../shim/shim'
import type { ContainerRecord } from './types'
import type { EtcFiles } from './etc-files'

/** A container set up up to its process, whose shim awaits the claim. */
export interface Prestarted {
  /** Its container id, which the run that claims it takes. */
  readonly id: string
  readonly shim: Shim
  /** The pid of its child (the program's pid to be). */
  readonly pid: number
  /** That pid's start time (/proc/<pid>/stat), read while it waited: the claimed program's, since exec keeps it. */
  readonly pidStart: string | undefined
  /** The layers its overlay was mounted with, top first, by path and inode: a layer made again since is another. */
  readonly layers: readonly { path: string; ino: number }[]
  /** Its /etc files as made: a claim writes again only those its run's differ from. */
  readonly etc: EtcFiles
}

/** How a runtime makes a pre-started container from a template record, and ends one never claimed. */
export interface PrestartMaker {
  /** Pre-starts a container of `template`'s shape, under an id of its own. */
  make(template: ContainerRecord): Promise<Prestarted>
  /** Ends an unclaimed one and removes what it holds (its cgroup, its directory). */
  discard(p: Prestarted): Promise<void>
  /** The same, synchronously and as far as it can go, as the process exits. */
  discardNow(p: Prestarted): void
}

/** Shapes kept at once: a suite alternating two services keeps both. */
const maxShapes = 2
/** How long an unclaimed one is kept: a process that stopped running its shape does not keep its container. */
const idleMs = 30_000
/** Runs of a shape before one is pre-started for it: a shape run once is most often never run again. */
const runsBeforePrestart = 2

/** The pools of live processes' runtimes, ended by the exit handler. */
const livePools = new Set<PrestartPool>()
let exitHandled = false

/** One runtime's pre-started containers, by shape. */
export class PrestartPool {
  private readonly ready = new Map<string, { prestarted: Prestarted; expiry: NodeJS.Timeout }>()
  /**
   * Shapes whose container is to be made (once the CPU is ours), or is being made (`begun`); each
   * settles once it is kept, failed, or was given up (`giveUp`: not begun, it makes nothing).
   */
  private readonly making = new Map<string, { done: Promise<void>; now: () => void; begun: boolean; givenUp: boolean }>()
  /** Runs seen per shape (bounded: the oldest shapes are forgotten). */
  private readonly runs = new Map<string, number>()
  /** Claimed ones between the create that claimed them and its start. */
  private readonly claimed = new Map<string, Prestarted>()
  private closed = false

  /** @param enabled - RuntimeOptions.prestart: false makes none */
  constructor(
    private readonly maker: PrestartMaker,
    private readonly enabled = true,
  ) {}

  /**
   * The one of `shape`, taken (a run claims it): the ready one, else the one being made, once it is
   * (its setup under way is nearer than a new start's, which would only compete with it on the CPU);
   * undefined when there is none. One still to be made is given up: the run starts its own container,
   * and its start schedules the next (made then, in a back-to-back loop it was all waiting: measured
   * 13.4 ms against the claimed 4.5 and the plain 9.3).
   */
  async claim(shape: string): Promise<Prestarted | undefined> {
    const making = this.ready.has(shape) ? undefined : this.making.get(shape)
    if (making?.begun) await making.done
    else if (making) {
      making.givenUp = true
      making.now()
      this.making.delete(shape)
    }
    return this.take(shape)
  }

  private take(shape: string): Prestarted | undefined {
    const entry = this.ready.get(shape)
    if (!entry) return undefined
    this.ready.delete(shape)
    clearTimeout(entry.expiry)
    // Its image's layers removed (or the init layer made again) since it was set up: not the image a run gets now.
    if (!layersIntact(entry.prestarted)) {
      void this.maker.discard(entry.prestarted)
      return undefined
    }
    this.claimed.set(entry.prestarted.id, entry.prestarted)
    return entry.prestarted
  }

  /** The claimed one whose id container `id` took at its create, handed to its start once. */
  claimedBy(id: string): Prestarted | undefined {
    const p = this.claimed.get(id)
    this.claimed.delete(id)
    return p
  }

  /**
   * A run of `shape` (from `template`) has started: once its shape has run {@link runsBeforePrestart}
   * times, one is made for the next, when `idle` resolves (the CPU ours again), unless one is ready or
   * being made.
   */
  ranShape(shape: string, template: ContainerRecord, idle: Promise<unknown>): void {
    const runs = (this.runs.get(shape) ?? 0) + 1
    this.runs.delete(shape)
    this.runs.set(shape, runs)
    if (this.runs.size > 16) this.runs.delete(this.runs.keys().next().value!)
    if (!this.enabled || runs < runsBeforePrestart || this.closed || this.ready.has(shape) || this.making.has(shape)) return
    let now!: () => void
    const asked = new Promise<void>((resolve) => (now = resolve))
    const make = () => {
      if (this.closed || entry.givenUp) return undefined
      entry.begun = true
      return this.maker.make(template).then(
        (p) => this.keep(shape, p),
        (err: Error) => debug('pre-starting a container failed (the next run starts one itself): %s', err.message),
      )
    }
    const entry = { done: Promise.race([idle, asked]).then(make), now, begun: false, givenUp: false }
    void entry.done.finally(() => {
      if (this.making.get(shape) === entry) this.making.delete(shape)
    })
    this.making.set(shape, entry)
  }

  private keep(shape: string, prestarted: Prestarted): void {
    if (this.closed) return void this.maker.discard(prestarted)
    // The least recently made shape goes first.
    if (this.ready.size >= maxShapes) this.drop(this.ready.keys().next().value!)
    const expiry = setTimeout(() => this.drop(shape), idleMs).unref()
    this.ready.set(shape, { prestarted, expiry })
    // Ended before any claim (killed, out of memory): it is no container to give a run.
    const ended = () => {
      if (this.ready.get(shape)?.prestarted === prestarted) this.drop(shape)
    }
    prestarted.shim.started.then(ended, ended)
    livePools.add(this)
    endAtExit()
  }

  private drop(shape: string): void {
    const entry = this.ready.get(shape)
    if (!entry) return
    this.ready.delete(shape)
    clearTimeout(entry.expiry)
    void this.maker.discard(entry.prestarted)
  }

  /** Ends every unclaimed one and makes no more (Runtime.close()). */
  async drain(): Promise<void> {
    this.closed = true
    await Promise.all([...this.making.values()].map((m) => (m.now(), m.done)))
    const all = [...this.ready.values()].map((e) => (clearTimeout(e.expiry), e.prestarted))
    this.ready.clear()
    livePools.delete(this)
    await Promise.all(all.map((p) => this.maker.discard(p)))
  }

  /**
   * As the process exits: kills each child, then its shim (the child's pid cannot name another process
   * before its shim, alive, has reaped it), then removes what it can at once.
   */
  endNow(): void {
    const all = [...this.ready.values()].map((e) => e.prestarted)
    this.ready.clear()
    for (const p of all) signalQuietly(p.pid, 'SIGKILL')
    for (const p of all) signalQuietly(p.shim.shimPid, 'SIGKILL')
    for (const p of all) this.maker.discardNow(p)
  }
}

/** Whether every layer `p` was set up with is still the directory it was. */
function layersIntact(p: Prestarted): boolean {
  return p.layers.every((l) => fs.statSync(l.path, { throwIfNoEntry: false })?.ino === l.ino)
}

function endAtExit(): void {
  if (exitHandled) return
  exitHandled = true
  process.once('exit', () => {
    for (const pool of livePools) pool.endNow()
  })
}
