/**
 * The public face of containers: create, start, wait, exec, logs, stop,
 * kill, remove, inspect — Docker's lifecycle, in-process.
 *
 * @module
 */
import '../util/dispose-symbol'
import * as fs from 'node:fs'
import type { Readable } from 'node:stream'
import { ContainerNotFoundError, InvalidArgumentError, MiniContainerError, NotRunningError, StartError, throwIfAborted } from '../errors'
import { contextOf, type ContainerContext, type RuntimeOption } from './context'
import { encodeExecSpec, encodeLateNetns, encodeRunSpec, type RunSpec } from '../shim/spec'
import { Shim, type ExitStatus } from '../shim/shim'
import { closeQuietly, CLONE_NEWNET, CLONE_NEWUSER } from '../sys/libc'
import { openNetns } from '../sys/netns'
import { diskUsage } from '../files/disk-usage'
import { etcFiles } from './etc-files'
import * as files from '../files'
import type { CopyOptions, PathStat, PutArchiveOptions } from '../files'
import type { Image } from '../image/image'
import type { ImageRecord } from '../image/store'
import { commitLayer, type CommitOptions } from './commit'
import { joinBridgeNetwork, mappedPort, networkSettingsOf, publishedPort } from './networking'
import type { CgroupSetup, ContainerStats, ProcessInfo } from '../cgroups'
import { statsStream, updateResources, type ResourceUpdate, type StatsStreamOptions } from './resources'
import type { HostBinding } from '../network/types'
import { joinsNetworks } from '../network/network-mode'
import { processStartTime, livesOn, thisProcess, waitForeign } from './liveness'
import { observe, type Observation, type ObserveWants } from './observe'
import { releaseRun, runReleased, settleExit } from './exit'
import { PolicyRestarts } from './policy-restarts'
import { lockUnlessAborted, untilAborted } from './abortable'
import { inspectOf } from './inspect'
import { ask, refusal, runs, pauseMatters, type Operation } from './status'
import { runExec } from './exec'
import { filteredEntries, logFilter, logStream, type LogSource } from './logs'
import { keepLog } from './kept-log'
import { containerPruneFilter, type ContainerPruneOptions } from './prune'
import type { LogEntry } from './log-file'
import { envList, processSpec } from './process-spec'
import { buildRecord, withId } from './record'
import { checkRunOptions } from './run-options'
import { checkKeepId, checkRootlessRunOptions } from '../rootless/run-options'
import { ensureImage } from '../image/registry/policy'
import { dnsServers, extraHostLines } from './network-options'
import { hostDevices, type HostDevice } from './device-mappings'
import { baseCloneFlags, containerCapabilities, containerDevicePolicy, containerSecurity, heldNetnsPath, type NetnsChoice } from './run-spec'
import { createMounts, removeAnonymousVolumes } from '../storage/mount-lifecycle'
import { withInitLayerDir } from '../storage/init-layer'
import { containerClaim, containerRunSpec } from './container-spec'
import { runShape } from './run-shape'
import type { Prestarted } from './prestarts'
import type { ContainerInspect, ContainerRecord, ContainerState, ContainerStatus, ExecOptions, ExecResult, LogsOptions, RunOptions } from './types'
import { placeFiles } from '../harness/files'
import { startHealthMonitor } from './health'
import { waitUntilReady, type WaitForOptions } from '../harness/wait-until-ready'
import type { WaitStrategy } from '../harness/strategy'
import type { WaitTarget } from '../harness/target'
import { waitTarget } from './wait-target'
import { clearVolatileMark, isLastMount } from './volatile-root'
import { debug } from '../util/debug'
import { stamp } from '../util/start-trace'
import { optionsObject } from '../util/options-object'
import { SharedViews, type FilesystemView } from './fs-views'

/** Set by Container's static block: create() for run(), see {@link createForRun}. */
let createForRunHook: (rt: ContainerContext, image: string, cmd: string[] | undefined, opts: RunOptions) => Promise<Container>

/**
 * `Container.create()` for run(), which starts the container next: a run whose shape this process has
 * run before may take the container pre-started for it (prestarts.ts). Not in the package's index.
 */
export function createForRun(image: string, cmd: string[] | undefined, options: RunOptions & RuntimeOption): Promise<Container> {
  const opts = optionsObject(options, 'run()')
  return createForRunHook(contextOf(opts), image, cmd, opts)
}

/** Ends the shim of a failed start, and a program it already runs with it. */
async function endShim(shim: Shim): Promise<void> {
  shim.kill()
  await shim.hold(shim.closed)
}

/** A claimed pre-started container whose start never came: ended, its cgroup released once its shim is gone. */
function abandonClaim(rt: ContainerContext, claimed: Prestarted | undefined): void {
  if (!claimed) return
  claimed.shim.kill()
  void rt.containers.removals.track(claimed.shim.closed.then(() => releaseRun(rt, claimed.id, 'none')))
}

/** Set by Container's static block: start() with the builder's {@link StartExtras}. */
let startHook: (c: Container, extras: StartExtras, signal: AbortSignal | undefined) => Promise<void>

/** How {@link Container.launch} starts: what startHere holds for it. */
interface LaunchOptions {
  /** The restart policy's count for this run (0 for a start by hand). */
  restartCount: number
  extras: StartExtras
  /** The pre-started container its create claimed, if any. */
  prestarted?: Prestarted
  /** What run()'s create handed to its start. */
  fromRun?: { image: ImageRecord }
}

/** What the builder's start of a RUN container adds to start(). */
export interface StartExtras {
  /**
   * Variables for the program over the record's (a build's secrets): sent to the shim (and redacted
   * in its debug output), never saved in the record nor shown by inspect(), not given to a restart or
   * an exec.
   */
  processEnv?: string[]
  /**
   * The container is removed after this run, never started nor viewed again: its root is mounted
   * volatile (RootfsSpec.volatile), as an rm: true container's.
   */
  lastMount?: boolean
}

/**
 * `c.start({ signal })` with {@link StartExtras}. The builder's; not in the package's index, so not
 * in start()'s public options.
 */
export function startWithExtras(c: Container, extras: StartExtras, signal?: AbortSignal): Promise<void> {
  return startHook(c, extras, signal)
}

/** This process's views of stopped containers, by container directory. */
const views = new SharedViews()
/**
 * Per shim of this process, its program's exit once it is settled: recorded and, for `rm: true`,
 * the container removed (its name free, gone from list()). wait() answers with it, not with the
 * shim's own exit: the shim's teardown (the container's mount namespace) comes after.
 */
const settledExits = new WeakMap<Shim, Promise<ExitStatus>>()
/** What a container removed during a file operation was doing (removedMeanwhile). */
const viewInUse = 'while its files were in use'

/** A container. Handles are cheap: all state is on disk under the runtime root. */
export class Container implements AsyncDisposable {
  /** How the program ended, as this handle saw it: wait() answers with it once the container is removed. */
  private lastExit: ExitStatus | undefined
  /** Its restarts by its restart policy, while this process owns it. */
  private readonly restarts: PolicyRestarts
  /** The newest records of its log, read before this handle auto-removed it (rm: true): logs() serves them after. */
  private keptLog: LogEntry[] | undefined
  /**
   * Set by run()'s create for the start that follows it at once, which takes it: that start counts
   * toward its shape's pre-started container (prestarts.ts), and uses the image's record read by the create.
   */
  private fromRun: { image: ImageRecord } | undefined

  private constructor(
    private readonly runtime: ContainerContext,
    /** Full 64-hex id. */
    readonly id: string,
    /** Name (unique within the runtime). */
    readonly name: string,
  ) {
    this.restarts = new PolicyRestarts(runtime, id, name, (restartCount) => this.startHere(undefined, restartCount))
  }

  /** Creates a container from an image without starting it (`docker create`). ECLOSED once its runtime is closing. */
  static async create(image: string, cmd?: string[], options?: RunOptions & RuntimeOption): Promise<Container> {
    const opts = optionsObject(options, 'Container.create()')
    const rt = contextOf(opts)
    return rt.starts.track(`create a container of ${image}`, () => Container.createIn(rt, image, cmd, opts))
  }

  /** `forRun`: made by run(), which starts it next: it may take a pre-started container of its shape. */
  private static async createIn(rt: ContainerContext, image: string, cmd: string[] | undefined, opts: RunOptions, forRun = false): Promise<Container> {
    await rt.ready()
    checkRunOptions(opts) // before a pull that may take long
    if (rt.rootless) checkRootlessRunOptions(opts, rt.userIds)
    if (opts.userns) checkKeepId(rt)
    const found = await ensureImage(rt.images, image, opts.pull, { ...opts.pullOptions, signal: opts.signal })
    const built = buildRecord(rt, image, cmd, opts, found)
    const imageRecord = built.image
    let record = built.record
    const shape = forRun && !opts.files?.length ? runShape(record, rt.rootless) : undefined
    const prestarted = shape === undefined ? undefined : await rt.prestarts.claim(shape)
    // The container is the pre-started one: its id (and so its directory, cgroup and default hostname).
    if (prestarted) record = withId(record, prestarted.id, opts.hostname)
    rt.containers.reserveName(record.name, record.id)
    try {
      // The record's binds add the image's VOLUME paths (anonymous volumes) to the run options' volumes.
      record.mounts = await createMounts({ ...opts, volumes: record.hostConfig.binds }, rt.volumes, rt.images.layerDirs(imageRecord))
      const etc = etcFiles(record.config.hostname, {
        ownNetwork: record.hostConfig.networkMode !== 'host',
        extraHosts: extraHostLines(record.hostConfig, record.hostConfig.networkMode),
        dns: dnsServers(opts.dns),
      })
      if (prestarted) rt.containers.claimPrestarted(record, etc, prestarted.etc)
      else rt.containers.create(record, etc)
      if (opts.files?.length) await new Container(rt, record.id, record.name).withFilesystem((root) => placeFiles(root, opts.files!))
    } catch (err) {
      if (prestarted) abandonClaim(rt, rt.prestarts.claimedBy(record.id))
      rt.containers.deleteUnattended(record.id, record.name, prestarted?.shim.closed)
      await removeAnonymousVolumes(record.mounts ?? [], rt.volumes)
      throw err
    }
    const container = new Container(rt, record.id, record.name)
    if (forRun) container.fromRun = { image: imageRecord }
    return container
  }

  static {
    // run()'s create (createForRun below), which may take a pre-started container: not a public option.
    createForRunHook = (rt, image, cmd, opts) => rt.starts.track(`create a container of ${image}`, () => Container.createIn(rt, image, cmd, opts, true))
  }

  /** Finds a container by name, full id, or unique id prefix (such as "450"). */
  static async get(ref: string, opts: RuntimeOption = {}): Promise<Container> {
    const rt = contextOf(opts)
    const id = rt.containers.resolve(ref)
    return new Container(rt, id, rt.containers.read(id)!.name)
  }

  /** Running containers, or all of them with `{ all: true }` (`docker ps [-a]`). */
  static async list(opts: RuntimeOption & { all?: boolean } = {}): Promise<Container[]> {
    const rt = contextOf(opts)
    await rt.ready()
    const result: Container[] = []
    for (const id of rt.containers.ids()) {
      const record = rt.containers.read(id)
      if (!record) continue
      const c = new Container(rt, id, record.name)
      if (opts.all || runs(c.observe().status)) result.push(c)
    }
    return result
  }

  /**
   * Removes every stopped container (created or exited) of the runtime, as `docker container prune`:
   * `until` and `label` filters as its `--filter`. Running and paused ones stay, and so do their
   * volumes (remove them with `Volume.prune()`). Returns the ids removed.
   */
  static async prune(options?: RuntimeOption & ContainerPruneOptions): Promise<string[]> {
    const opts = optionsObject(options, 'Container.prune()')
    const selected = containerPruneFilter(opts)
    const removed: string[] = []
    for (const c of await Container.list({ runtime: opts.runtime, all: true })) {
      const record = c.runtime.containers.read(c.id)
      if (!record || runs(c.observe().status) || !selected(record)) continue
      // A start or removal elsewhere meanwhile: not this prune's to remove (ERUNNING, ENOCONTAINER).
      await c.remove().then(() => removed.push(c.id), (err) => {
        if (!(err instanceof MiniContainerError && (err.code === 'ERUNNING' || err.code === 'ENOCONTAINER'))) throw err
      })
    }
    return removed
  }

  /**
   * Starts the container's program. Resolves once it runs (its execve
   * succeeded). Aborting `signal` while the start is in flight undoes it
   * (the program is killed, its network released) and rejects with EABORTED.
   * A view of the stopped container held open meanwhile (a `getArchive`
   * stream not yet read) is waited for: its layer is mounted once at a time.
   * ECLOSED once its runtime is closing; a start under way when close()
   * begins is waited for, and its program then killed.
   */
  async start(
    opts: {
      /** Aborting it while the start is in flight undoes the start (EABORTED). */
      signal?: AbortSignal
    } = {},
  ): Promise<void> {
    return this.startWith(opts.signal, {})
  }

  static {
    // The one way in for startWithExtras (below): the options stay out of start()'s public type.
    startHook = (c, extras, signal) => c.startWith(signal, extras)
  }

  /** start(), with the builder's `extras` (see startWithExtras). */
  private startWith(signal: AbortSignal | undefined, extras: StartExtras): Promise<void> {
    return this.runtime.starts.track(`start container ${this.name}`, () => this.startHere(signal, 0, extras))
  }

  /** A start; `restartCount` is the restart policy's count for this run (0 for a start by hand); `extras` as startWithExtras'. */
  private async startHere(signal: AbortSignal | undefined, restartCount = 0, extras: StartExtras = {}): Promise<void> {
    const what = `starting container ${this.name}`
    // The pre-started container its create claimed: this start's to run, or to end when it does not.
    let prestarted = this.runtime.prestarts.claimedBy(this.id)
    try {
      throwIfAborted(signal, what)
      const fromRun = this.fromRun
      this.fromRun = undefined
      // Without the record: a removed container's start fails at the lock, ENOCONTAINER too. Not for
      // run()'s start, made a moment ago: the ask under the lock answers for it.
      if (!fromRun && this.ask('start', {}).answer === 'nothing-to-do') return
      const unlock = await lockUnlessAborted(this.lockLayer('while it was starting'), signal, what)
      stamp('node: layer locked')
      try {
        // The lock's previous holder may have been a start in another process.
        const now = this.ask('start', { record: true })
        if (now.answer !== 'proceed') return
        const claimed = prestarted
        prestarted = undefined
        await this.launch(now.record!, signal, what, { restartCount, extras, prestarted: claimed, fromRun })
      } finally {
        unlock()
      }
    } finally {
      abandonClaim(this.runtime, prestarted)
    }
  }

  /** The start itself, holding the layer lock. */
  private async launch(record: ContainerRecord, signal: AbortSignal | undefined, what: string, how: LaunchOptions): Promise<void> {
    const { restartCount, extras, prestarted, fromRun } = how
    const paths = this.paths()
    const lastMount = isLastMount(record, extras.lastMount)
    let shim: Shim | undefined
    let pid = 0
    // Fails (ENOENT) when a remove() elsewhere took the directory while the program was being started.
    const running = (pid: number, pidStart = processStartTime(pid)) =>
      this.runtime.containers.writeState(this.id, { status: 'running', pid, pidStart, startedAt: new Date().toISOString(), owner: thisProcess(), ...(restartCount > 0 ? { restartCount } : {}) })
    try {
      // Read once: the network's exposed ports and the spec's layers and config come from it.
      const image = fromRun?.image.id === record.imageId ? fromRun.image : this.runtime.images.resolve(record.imageId)
      if (prestarted) {
        shim = prestarted.shim
        // Its pid and start time known (exec keeps them): written while its child sets the process up.
        pid = await this.claim(shim, record, image, signal, what, () => running(prestarted.pid, prestarted.pidStart))
        if (pid !== prestarted.pid) running(pid)
      } else {
        ;({ shim, pid } = await this.launchShim(record, image, signal, what, extras, lastMount))
        running(pid)
      }
      stamp('node: state written')
    } catch (err) {
      // A claim whose program did not start: not running (a missing state file is 'created').
      if (prestarted) fs.rmSync(paths.state, { force: true })
      if (shim) await endShim(shim)
      if (lastMount) clearVolatileMark(this.runtime, paths.work)
      await releaseRun(this.runtime, this.id, record.hostConfig.networkMode)
      throw this.removedMeanwhile(err, 'while it was starting')
    }
    this.runtime.shims.set(this.id, shim)
    // Not through exec(): a detached container's checks go on after its runtime closes.
    startHealthMonitor(record, paths.health, shim.exited, (cmd, signal) => this.execIn(cmd, { signal }))
    const startedAt = Date.now()
    const settled = shim.exited.then((exit) => this.onExit(exit, pid, shim, record, startedAt))
    settled.catch(() => {}) // wait() reports it; with no wait(), nothing is left unhandled
    settledExits.set(shim, settled)
    void shim.closed.then(() => this.onShimGone(shim))
    if (fromRun) this.countRunShape(record, shim)
  }

  /**
   * Claims pre-started container `shim`'s with `record`'s process, on a bridge or user network joined
   * now (the child waits before its first use of one); resolves with the program's pid once it runs,
   * its published ports served. `whileItStarts` runs once the claim is sent, beside the child's setup.
   */
  private async claim(shim: Shim, record: ContainerRecord, image: ImageRecord, signal: AbortSignal | undefined, what: string, whileItStarts: () => void): Promise<number> {
    const netns = this.joinsNetworkLate(record) ? await this.joinNetwork(record, image) : undefined
    try {
      shim.sendLast(containerClaim(this.runtime, record, image, netns?.choice))
      stamp('node: claim sent')
      whileItStarts()
      const pid = await shim.hold(untilAborted(shim.started, signal, what, shim))
      await netns?.serving()
      return pid
    } finally {
      netns?.release()
    }
  }

  /**
   * A start's first run of run()'s: counted toward its shape's pre-started container, made once
   * `shim`'s program has exited or has run a moment (a start's CPU is its own until then).
   */
  private countRunShape(record: ContainerRecord, shim: Shim): void {
    // Counted now, made later: a run that comes before it is begun gives it up (PrestartPool.claim).
    const shape = runShape(record, this.runtime.rootless)
    if (shape === undefined) return
    const idle = Promise.race([shim.exited, new Promise((resolve) => setTimeout(resolve, 25).unref())]).then(() => new Promise(setImmediate))
    this.runtime.prestarts.ranShape(shape, record, idle)
  }

  /**
   * A start without a pre-started container: the spec sent to a spare shim, beside the network's join.
   * Resolves once the program runs, its published ports served; its shim ended if it fails.
   */
  private async launchShim(record: ContainerRecord, image: ImageRecord, signal: AbortSignal | undefined, what: string, extras: StartExtras, lastMount: boolean): Promise<{ shim: Shim; pid: number }> {
    fs.rmSync(this.paths().exit, { force: true })
    // The previous run's release (settleExit's, unawaited) must end first: it reaches its cgroup's
    // removal only after a setImmediate, so a start at once after wait() found no removal under way
    // (cgroups.released), made its cgroup, and had it removed before its shim could open it.
    await runReleased(this.runtime, this.id)
    // A bridge or user network is joined while the shim clones and mounts (its namespace sent after the spec).
    const late = this.joinsNetworkLate(record)
    let netns = late ? undefined : await this.joinNetwork(record, image)
    if (!late) stamp('node: network joined')
    let shim: Shim | undefined
    try {
      throwIfAborted(signal, what)
      shim = await this.sendSpec(record, image, netns?.choice ?? { kind: 'late' }, { processEnv: extras.processEnv, lastMount })
      netns ??= await this.joinNetworkBeside(shim, record, image)
      // The shim opens the namespace by path before it reports: keep our fd until then.
      const pid = await shim.hold(untilAborted(shim.started, signal, what, shim))
      // Its published ports' relays, started beside the program: served once run() resolves.
      await netns.serving()
      return { shim, pid }
    } catch (err) {
      if (shim) await endShim(shim)
      throw err
    } finally {
      netns?.release()
    }
  }

  /**
   * Makes the container's cgroup (limited, before the program: the shim's child joins it first thing),
   * builds the run spec and sends it to a spare shim, which goes to work at once. With a 'late'
   * network namespace the shim waits for {@link joinNetworkBeside}'s message before its first mount
   * that needs it.
   */
  private async sendSpec(record: ContainerRecord, image: ImageRecord, netns: NetnsChoice, start: StartExtras): Promise<Shim> {
    const devices = hostDevices(record.hostConfig.devices)
    // A previous run's cgroup may still be being removed (off the event loop): not this run's, made next.
    await this.runtime.cgroups.released(this.id)
    const cgroups = this.runtime.cgroups.prepare(this.id, record.resources ?? { rlimits: [] }, {
      readOnly: !record.hostConfig.privileged,
      devices: containerDevicePolicy(record, devices),
    })
    stamp('node: cgroup prepared')
    const spec = this.runSpec(record, image, netns, cgroups, devices, start)
    if (spec.userns) this.runtime.userIds?.checkUser(spec.userns, spec.process, record.config.user)
    stamp('node: spec built')
    const encoded = encodeRunSpec(spec)
    stamp('node: spec encoded')
    const shim = (await Shim.forRun({ warmNetns: spec.loopbackUp })).send(encoded, start.processEnv, netns.kind === 'late')
    stamp('node: spec sent')
    return shim
  }

  /** Joins the container's bridge or user networks while `shim` clones and mounts, then sends it the namespace. */
  private async joinNetworkBeside(shim: Shim, record: ContainerRecord, image: ImageRecord): ReturnType<Container['joinNetwork']> {
    const netns = await this.joinNetwork(record, image)
    stamp('node: network joined')
    shim.sendLast(encodeLateNetns(heldNetnsPath(netns.choice)))
    return netns
  }

  /** Holds the container's layer lock (ContainerStore.lockLayer); ENOCONTAINER once it is gone. */
  private lockLayer(during: string): Promise<() => void> {
    return this.runtime.containers.lockLayer(this.id).catch((err) => Promise.reject(this.removedMeanwhile(err, during)))
  }

  /**
   * Calls `fn` with a host path to the container's filesystem as its
   * processes see it (layers, volumes, bind mounts): `/proc/<pid>/root`.
   * A stopped container's view is assembled for the call by a held shim in
   * a private mount namespace, so nothing is ever mounted on the host.
   * Paths under it must be resolved with RESOLVE_IN_ROOT (the content is untrusted).
   */
  async withFilesystem<T>(fn: (root: string) => Promise<T>): Promise<T> {
    const fsView = await this.openFilesystem()
    try {
      return await fn(fsView.root)
    } catch (err) {
      const lost = this.viewLost(err, fsView)
      throw lost === err ? (this.runtime.userIds?.explainDenied(err, "copy files in or out of a container's directories") ?? err) : lost
    } finally {
      await fsView.release()
    }
  }

  /** Like {@link withFilesystem}, for views that outlive the call (a tar stream read later). */
  private async openFilesystem(): Promise<FilesystemView> {
    return this.runningView() ?? views.open(this.paths().dir, () => this.assembleView())
  }

  /** The running program's root, or undefined when it does not run. */
  private runningView(): FilesystemView | undefined {
    const { status, state } = this.observe()
    return runs(status) && state.pid
      ? { root: `/proc/${state.pid}/root`, release: async () => {}, program: { pid: state.pid, pidStart: state.pidStart } }
      : undefined
  }

  /** The stopped container's files, assembled by a held shim under the layer lock (one mount of the layer at a time). */
  private async assembleView(): Promise<FilesystemView> {
    const unlock = await this.lockLayer(viewInUse)
    try {
      // The lock's previous holder may have been its start.
      const running = this.runningView()
      if (running) {
        unlock()
        return running
      }
      const record = this.record()
      // No exit file: the holder must never write into the container's directory.
      // Rootless, the host's network namespace is not the user namespace's to mount /sys for: a namespace of its own.
      const spec = { ...this.runSpec(record, this.runtime.images.resolve(record.imageId), { kind: this.runtime.rootless ? 'own' : 'host' }), hold: true, detach: false, exitFile: '' }
      spec.output = { stdout: '/dev/null', stderr: '/dev/null' }
      const shim = (await Shim.forRun()).send(encodeRunSpec(spec))
      const pid = await shim.hold(shim.started).catch((err) => Promise.reject(this.removedMeanwhile(err, viewInUse)))
      const release = async () => {
        process.kill(pid, 'SIGKILL')
        await shim.hold(shim.closed)
        unlock()
      }
      return { root: `/proc/${pid}/root`, release }
    } catch (err) {
      unlock()
      throw err
    }
  }

  /** Copies a host file or directory into the container, with `docker cp`'s rules (owner, mode, times and file capabilities kept). Works on running and stopped containers. */
  async copyTo(hostSrc: string, containerDest: string, opts: CopyOptions = {}): Promise<void> {
    await this.withFilesystem((root) => files.copyTo(root, hostSrc, containerDest, opts, this.runtime.userIds?.landingWrites(), this.runtime.userIds?.sourceReads()))
  }

  /** Copies a container file or directory to the host, with `docker cp`'s rules (owner, mode, times and file capabilities kept). */
  async copyFrom(containerSrc: string, hostDest: string, opts: CopyOptions = {}): Promise<void> {
    await this.withFilesystem((root) => files.copyFrom(root, containerSrc, hostDest, opts, this.runtime.userIds?.sourceReads()))
  }

  /** Stat of a path inside the container (the Engine API's HEAD /archive). */
  async statPath(containerPath: string): Promise<PathStat> {
    return this.withFilesystem((root) => files.statPath(root, containerPath, this.runtime.userIds?.sourceReads()))
  }

  /** A tar stream of a container path, and its stat (GET /archive); file capabilities go in as PAX xattr records, as in Docker. The container's view stays assembled until the stream ends. */
  async getArchive(containerPath: string): Promise<{
    /** The tar archive of the path (a directory with its contents, under the path's last name). */
    stream: Readable
    /** What the path is (Docker's X-Docker-Container-Path-Stat header). */
    stat: PathStat
  }> {
    const view = await this.openFilesystem()
    try {
      const result = await files.getArchive(view.root, containerPath, this.runtime.userIds?.sourceReads(), this.runtime.userIds?.insideIds())
      result.stream.once('close', () => void view.release())
      return result
    } catch (err) {
      await view.release()
      throw this.viewLost(err, view)
    }
  }

  /** Extracts a tar (stream or buffer) into an existing container directory (PUT /archive), with the xattrs of its PAX records. Entries escaping the directory are refused. */
  async putArchive(containerDir: string, tar: Readable | Buffer, opts: PutArchiveOptions = {}): Promise<void> {
    await this.withFilesystem((root) => files.putArchive(root, containerDir, tar, opts, this.runtime.userIds?.landingWrites(), this.runtime.userIds?.sourceReads()))
  }

  /**
   * Turns the container's writable layer into a new image (`docker commit`):
   * the upper dir becomes an OCI layer (whiteouts as `.wh.` entries), stored
   * under its digest, on top of the container's image layers.
   */
  async commit(opts: CommitOptions = {}): Promise<Image> {
    const record = this.record()
    return commitLayer(this.runtime, this.runtime.images.resolve(record.imageId), this.paths().upper, record, opts)
  }

  private runSpec(record: ContainerRecord, image: ImageRecord, netns: NetnsChoice, cgroups?: CgroupSetup, devices?: HostDevice[], start: StartExtras = {}): RunSpec {
    return containerRunSpec(this.runtime, record, image, netns, cgroups, devices, start)
  }

  /**
   * Waits for the program to end; resolves immediately if it already has.
   * Once the container is removed (`rm: true`, `remove({ force: true })`),
   * the exit this handle saw (137 for the removal's SIGKILL), else ENOCONTAINER.
   */
  async wait(): Promise<ExitStatus> {
    const shim = this.runtime.shims.get(this.id)
    // With rm: true, the container is gone when this resolves, as when `docker run --rm` returns; its files go after.
    if (shim) return this.saw(await shim.hold(settledExits.get(shim) ?? shim.exited))
    const { status, state } = this.observe({ record: true })
    if (status === 'removed') {
      if (this.lastExit) return this.lastExit
      throw new ContainerNotFoundError(this.name, 'it was removed before this handle saw its program end')
    }
    if (!runs(status)) return this.saw({ exitCode: state.exitCode ?? 0, ...(state.signal ? { signal: state.signal } : {}) })
    await waitForeign(this.paths().exit, this.paths().dir, state)
    return this.wait()
  }

  /** Keeps `exit` for a wait() after the container is gone. */
  private saw(exit: ExitStatus): ExitStatus {
    this.lastExit = exit
    return exit
  }

  /**
   * Waits until `strategy` says the container is ready (see `Wait`). Rejects
   * with ETIMEOUT after `timeout` ms (default 60 000), EEXITED when the
   * program ends first, both carrying the last 50 log lines.
   */
  async waitFor(strategy: WaitStrategy, opts: WaitForOptions = {}): Promise<void> {
    await waitUntilReady(this.waitTarget(), strategy, opts)
  }

  /** The view of this container that wait strategies use. @internal */
  waitTarget(): WaitTarget {
    const record = this.record()
    return waitTarget({
      id: this.id,
      name: this.name,
      paths: this.paths(),
      networkMode: record.hostConfig.networkMode,
      exposedPorts: record.config.exposedPorts ?? this.runtime.images.resolve(record.imageId).config.exposedPorts ?? [],
      state: () => this.observe().state,
      ended: () => this.exited(),
      exec: (cmd) => this.exec(cmd),
      settings: () => networkSettingsOf(this.runtime, this.id),
    })
  }

  /**
   * Like {@link wait}, without keeping the Node process alive while the program runs (for watchers),
   * and never rejecting: a container removed unseen was ended by the removal's SIGKILL.
   */
  private async exited(): Promise<ExitStatus> {
    const shim = this.runtime.shims.get(this.id)
    if (shim) return shim.exited
    const { status, state } = this.observe()
    if (runs(status)) await waitForeign(this.paths().exit, this.paths().dir, state, false)
    return this.wait().catch(() => ({ exitCode: 137, signal: 'SIGKILL' as const }))
  }

  /** Sends a signal to the container's PID 1 (`docker kill`). Default SIGKILL. */
  async kill(signal: NodeJS.Signals | number = 'SIGKILL'): Promise<void> {
    const sigkill = signal === 'SIGKILL' || signal === 9
    const { status, state, record } = this.ask('kill', { record: true, freezer: sigkill })
    this.restarts.stoppedByUser(record)
    try {
      process.kill(state.pid!, signal)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
    }
    // A frozen process only dies once thawed (v1 freezer), as `docker kill` of a paused container does.
    if (sigkill && status === 'paused') await this.runtime.cgroups.setPaused(this.id, false)
  }

  /** The stop signal (the `stopSignal` option, else the image's StopSignal, else SIGTERM), then SIGKILL after `timeout` seconds (default: the `stopTimeout` option, else 10); resolves once its network and cgroup are released (its host ports free). A no-op when not running; ENOCONTAINER once removed. */
  async stop(opts: { timeout?: number; signal?: NodeJS.Signals } = {}): Promise<ExitStatus> {
    // A removed container has nothing to stop: ENOCONTAINER, as `docker stop`.
    const { answer, record } = this.ask('stop', { record: true })
    // Also when it is not running: a restart the policy has scheduled is called off.
    this.restarts.stoppedByUser(record)
    if (answer === 'nothing-to-do') return this.released(await this.wait())
    const done = this.wait()
    await this.kill(opts.signal ?? record!.config.stopSignal ?? 'SIGTERM').catch(() => {})
    const timeoutMs = (opts.timeout ?? record!.config.stopTimeout ?? 10) * 1000
    let timer: NodeJS.Timeout | undefined
    const escalated = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.kill('SIGKILL').catch(() => {})
        resolve()
      }, timeoutMs)
    })
    await Promise.race([done, escalated])
    clearTimeout(timer)
    return this.released(await done)
  }

  /** `exit`, once what the run held is released: its published ports are free when stop() resolves. */
  private async released(exit: ExitStatus): Promise<ExitStatus> {
    await runReleased(this.runtime, this.id)
    return exit
  }

  /**
   * Stops the container as {@link stop} does (its StopSignal, then SIGKILL after `timeout` seconds,
   * default 10) and starts it again (`docker restart -t`); a container that does not run is just
   * started. Its writable layer and volumes stay. An `rm: true` container is
   * EINVALID: stopping it would remove it.
   */
  async restart(opts: { timeout?: number; signal?: NodeJS.Signals } = {}): Promise<void> {
    const { timeout } = optionsObject(opts, 'restart()')
    if (timeout !== undefined && !(typeof timeout === 'number' && timeout >= 0))
      throw new InvalidArgumentError(`restart({ timeout }): seconds to wait before SIGKILL, a number >= 0; got ${JSON.stringify(timeout)}`)
    if (this.present().record.hostConfig.autoRemove)
      throw new InvalidArgumentError(`container ${this.name} was run with rm: true: stopping it removes it, so it cannot be restarted; run it without rm to restart it`)
    await this.stop(opts)
    await this.start()
  }

  /**
   * Deletes the container and its writable layer. A running one needs `force` (it is killed first).
   * Rejects with ESYSCALL (flock ETIMEDOUT) when another process has held the runtime's names lock for
   * 5 s (a stopped process): the container is removed all the same but its name is still taken, and
   * remove() again frees it.
   */
  async remove(opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const { status, record } = this.observe({ record: true })
    // A container already removed (by another remove under way, or rm: true) has nothing left to remove.
    if (status !== 'removed') ask(opts.force ? 'forceRemove' : 'remove', status, this)
    if (runs(status)) {
      await this.kill('SIGKILL').catch(() => {})
      await this.wait()
    }
    const shim = this.runtime.shims.get(this.id)
    if (shim) await shim.hold(shim.closed)
    debug('remove container %s (volumes: %s)', this.id.slice(0, 12), !!opts.volumes)
    const mounts = record?.mounts ?? []
    // The record goes first, at once for every process: a start under way elsewhere that then finds
    // its cgroup gone knows why (start() above). What is left if this process dies now, recovery collects.
    let nameKept: unknown
    try {
      this.runtime.containers.delete(this.id, this.name)
    } catch (err) {
      // Only the name's release failed: the rest of the removal goes on, and the caller learns the name is still taken.
      if (!this.runtime.containers.nameLeftBehind(this.id)) throw err
      nameKept = err
    }
    // Idempotent; also covers failed starts and exits no process watched.
    await releaseRun(this.runtime, this.id, record?.hostConfig.networkMode)
    this.runtime.networks.forget(this.id)
    if (opts.volumes) await removeAnonymousVolumes(mounts, this.runtime.volumes)
    if (nameKept) throw nameKept
  }

  /** Runs a command inside the running container's namespaces and root (`docker exec`). ECLOSED once its runtime is closing. */
  async exec(cmd: string[], options?: ExecOptions): Promise<ExecResult> {
    const opts = optionsObject(options, 'exec()')
    this.runtime.starts.refuseIfClosing(`exec in container ${this.name}`)
    return this.execIn(cmd, opts)
  }

  /** {@link exec}, whether the runtime is closing or not. */
  private async execIn(cmd: string[], opts: ExecOptions): Promise<ExecResult> {
    if (!Array.isArray(cmd) || cmd.length === 0) throw new InvalidArgumentError('exec needs a command, e.g. ["cat", "/etc/hostname"]')
    const asked = this.ask('exec', { record: true })
    const state = asked.state
    const record = asked.record!
    const privileged = opts.privileged ?? record.hostConfig.privileged
    const userns = this.runtime.userIds?.kind
    const program = processSpec({
      args: cmd,
      imageEnv: record.config.env,
      env: envList(opts.env),
      cwd: opts.workdir ?? record.config.workdir,
      user: opts.user ?? record.config.user,
      groupAdd: record.hostConfig.groupAdd ?? [],
      layers: [this.paths().upper, ...this.layerDirs(record)],
      capabilities: privileged ? containerCapabilities({ ...record, hostConfig: { ...record.hostConfig, privileged } }) : containerCapabilities(record),
      rlimits: record.resources?.rlimits,
    })
    if (userns) this.runtime.userIds?.checkUser(userns, program, opts.user ?? record.config.user)
    const spec = encodeExecSpec({
      pid: state.pid!,
      cgroups: this.runtime.cgroups.join(this.id),
      joinFlags: baseCloneFlags | (record.hostConfig.networkMode === 'host' ? 0 : CLONE_NEWNET) | (this.runtime.rootless ? CLONE_NEWUSER : 0),
      userns,
      // The container's filter, even for a privileged exec (as runc applies the container's seccomp to every process).
      process: { ...program, ...containerSecurity(record) },
    })
    return runExec(spec, opts.stdin, opts.signal).catch((err) => Promise.reject(this.stoppedMeanwhile(err, state)))
  }

  /**
   * The program's output as `docker logs` gives it: bytes of both streams in
   * the order they were received, filtered by `stdout`/`stderr`, `tail`,
   * `since`/`until`, prefixed by their times with `timestamps`; with
   * `follow`, open until the container exits or is removed (as `docker logs -f`).
   * Bad options are EINVALID at once. An `rm: true` container that exited is
   * gone, but the handle that ran it keeps its last 10 000 records (1 MiB at
   * most) and serves them, so a failed test can still show what it printed;
   * another handle of a removed container fails the stream with ENOCONTAINER.
   */
  logs(opts: LogsOptions = {}): Readable {
    const source = this.logSource()
    return logStream(source, opts, () => this.logEnd(source, !!opts.follow))
  }

  /**
   * The same records as {@link logs}, as objects with their stream and time
   * apart: `{ stream: 'stdout' | 'stderr', time, log }`. `timestamps` does not apply.
   * On a removed container the iterator throws ENOCONTAINER (except for the records kept, as in {@link logs}).
   */
  logEntries(opts: Omit<LogsOptions, 'timestamps'> = {}): AsyncIterableIterator<LogEntry> {
    const source = this.logSource()
    return filteredEntries(source, logFilter(opts), !!opts.follow, () => this.logEnd(source, !!opts.follow))
  }

  /** The log file, or the records this handle kept once it auto-removed the container. */
  private logSource(): LogSource {
    return this.keptLog && !this.runtime.containers.read(this.id) ? this.keptLog : this.paths().log
  }

  /**
   * When a follower of the log stops: the program's exit or the container's removal (at once when it
   * is not running, when not following, or for kept records). ENOCONTAINER when it is already removed: its log went with it.
   */
  private logEnd(source: LogSource, follow: boolean): Promise<unknown> {
    if (typeof source !== 'string') return Promise.resolve()
    const { status } = this.present()
    if (!follow || !runs(status)) return Promise.resolve()
    const shim = this.runtime.shims.get(this.id)
    return shim ? shim.hold(shim.closed) : this.wait().catch(() => {})
  }

  /**
   * Docker-like details: state, config, host config, mounts, graph driver
   * paths. With `size`, also `sizeRw` (the writable layer) and `sizeRootFs`
   * (writable layer plus image layers; host binds of Image.fromHost() are not counted).
   */
  async inspect(opts: { size?: boolean } = {}): Promise<ContainerInspect> {
    const seen = this.present({ freezer: true })
    const info = inspectOf(this.runtime, seen, this.mountedLayerDirs(seen.record))
    if (!opts.size) return info
    const sizeRw = await diskUsage(this.paths().upper)
    let sizeRootFs = sizeRw
    for (const layer of this.layerDirs(this.record())) sizeRootFs += await diskUsage(layer)
    return { ...info, sizeRw, sizeRootFs }
  }

  /** The host address and port a container port is published on (`docker port`), e.g. for `ports: ['80']` with an ephemeral host port. */
  port(containerPort: number, proto: 'tcp' | 'udp' = 'tcp'): HostBinding | undefined {
    return publishedPort(this.runtime, this.id, containerPort, proto)
  }

  /** The host address to reach the container's published ports from this machine: '127.0.0.1' (testcontainers' `getHost()`). */
  get host(): string {
    return '127.0.0.1'
  }

  /**
   * The host port a container port is published on, as a number (testcontainers' `getMappedPort()`):
   * `net.connect(c.mappedPort(6379), c.host)`. EINVALID naming the published ports when this one is
   * not published; ENOTRUNNING when the container does not run (its ports are bound only while it runs).
   */
  mappedPort(containerPort: number, proto: 'tcp' | 'udp' = 'tcp'): number {
    if (!Number.isInteger(containerPort) || containerPort < 1 || containerPort > 65535)
      throw new InvalidArgumentError(`mappedPort(${JSON.stringify(containerPort)}): a container port is an integer from 1 to 65535, e.g. mappedPort(6379)`)
    if (!runs(this.present().status)) throw new NotRunningError(this.id, `read the mapped port ${containerPort}/${proto}`)
    return mappedPort(this.runtime, this.id, this.name, containerPort, proto)
  }

  /** One sample of resource use, like `docker stats --no-stream`; with `{ stream: true }`, a sample every second until the container stops. */
  stats(opts?: { stream?: false }): Promise<ContainerStats>
  stats(opts: StatsStreamOptions): AsyncIterableIterator<ContainerStats>
  stats(opts: { stream?: boolean; intervalMs?: number; signal?: AbortSignal } = {}): Promise<ContainerStats> | AsyncIterableIterator<ContainerStats> {
    const sampleOf = ({ state: s, record }: Observation) =>
      this.runtime.cgroups.stats(this.id, s.pid, new Date(s.startedAt ?? Date.now()), record!.hostConfig.networkMode === 'host')
    if (opts.stream) {
      // The stream ends when the container stops (or is removed).
      const sample = () => {
        const seen = this.observe({ record: true })
        return refusal('stats', seen.status, this) ? undefined : sampleOf(seen)
      }
      return statsStream(sample, { ...opts, stream: true })
    }
    try {
      return Promise.resolve(sampleOf(this.ask('stats', { record: true })))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** Changes resource limits (`docker update`); a running container gets them at once. ENOCONTAINER once removed. */
  async update(limits: ResourceUpdate): Promise<void> {
    const { status } = this.ask('update', { record: true })
    updateResources(this.runtime, this.id, runs(status), limits)
  }

  /** Freezes every process of the container (`docker pause`, the cgroup freezer). */
  async pause(): Promise<void> {
    this.ask('pause', { record: true })
    await this.runtime.cgroups.setPaused(this.id, true)
  }

  /** Thaws a paused container (`docker unpause`). */
  async unpause(): Promise<void> {
    this.ask('unpause', { record: true })
    await this.runtime.cgroups.setPaused(this.id, false)
  }

  /** The container's processes as the host sees them (`docker top`). */
  async top(): Promise<ProcessInfo[]> {
    this.ask('top', { record: true })
    return this.runtime.cgroups.top(this.id)
  }

  /** `await using c = await run(...)` removes the container (forcefully) at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.remove({ force: true }).catch((err) => {
      if (!(err instanceof ContainerNotFoundError)) throw err
    })
  }

  /**
   * What a failed start or file operation should throw: a remove() elsewhere (another process) while
   * it was under way fails whichever step it hit (its cgroup, log or layer gone; remove() deletes the
   * record before those), and then the cause to report is that the container is gone, `during` what.
   */
  private removedMeanwhile(err: unknown, during: string): unknown {
    if (this.runtime.containers.read(this.id)) return err
    return new ContainerNotFoundError(this.name, `it was removed ${during}`, err)
  }

  /**
   * What a failed file operation should throw: ENOCONTAINER when the container was removed meanwhile;
   * ENOTRUNNING when the program whose root it used ended meanwhile (`/proc/<pid>/root` is gone, or
   * going, and whichever step met that failed: a remove({ force }) kills the program before it deletes the record).
   */
  private viewLost(err: unknown, view: FilesystemView): unknown {
    const removed = this.removedMeanwhile(err, viewInUse)
    if (removed !== err || !view.program || livesOn(view.program.pid, view.program.pidStart)) return removed
    return new NotRunningError(this.id, 'use its files', 'it stopped while they were in use; a stopped container\'s files can be used too: try again')
  }

  /**
   * What a failed exec should throw: a container that stopped (its pid 1 exiting or gone) or was removed
   * while the exec was joining it fails whichever step that broke (setns ESRCH, fork ENOMEM in a dying
   * pid namespace), and then the cause to report is that it no longer runs.
   */
  private stoppedMeanwhile(err: unknown, state: ContainerState): unknown {
    if (!(err instanceof StartError)) return err
    const removed = this.removedMeanwhile(err, 'while a command was being started in it')
    if (removed !== err || livesOn(state.pid, state.pidStart)) return removed
    return new NotRunningError(this.id, 'exec')
  }

  /** The container's status now (observe.ts), reading what `wants` asks for beyond its state. */
  private observe(wants: ObserveWants = {}): Observation {
    return observe(this.runtime, this.id, wants)
  }

  /** {@link observe} with the record; ENOCONTAINER once removed. */
  private present(wants: ObserveWants = {}): Observation & { status: ContainerStatus; record: ContainerRecord } {
    const { status, state, record } = this.observe({ ...wants, record: true })
    if (status === 'removed' || !record) throw new ContainerNotFoundError(this.name, 'it was removed')
    return { status, state, record }
  }

  /**
   * Refreshes the status and asks the lifecycle (status.ts) whether `op` may go ahead: throws its
   * refusal, or gives the observation with the answer. The freezer is read when `op`'s answer depends on it.
   */
  private ask(op: Operation, wants: ObserveWants): Observation & { answer: 'proceed' | 'nothing-to-do' } {
    const seen = this.observe({ ...wants, freezer: wants.freezer || pauseMatters(op) })
    return { ...seen, answer: ask(op, seen.status, this) }
  }

  /**
   * The shim of this process saw the program of run `pid` (of `record`, started at `startedAt`, epoch
   * ms) end: recorded and restarted by its policy, or with rm: true removed.
   */
  private onExit(exit: ExitStatus, pid: number, shim: Shim, record: ContainerRecord, startedAt: number): ExitStatus {
    this.saw(exit)
    if (record.hostConfig.autoRemove) this.autoRemove(record, shim)
    else this.restarts.afterRun(settleExit(this.runtime, this.id, { ...exit, finishedAt: new Date().toISOString(), oomKills: shim.exitOomKills }, pid, record.hostConfig.networkMode), Date.now() - startedAt, record)
    stamp('node: exit settled')
    return exit
  }

  /**
   * rm: true, as soon as the exit is seen: the log is final (the shim reports the exit after its
   * last byte), so its newest records are kept for logs(), and the record and name go at once; an
   * exited state that nobody could read would only cost its write (and the OOM counter's read). The
   * files (the writable layer the shim's namespace still mounts, the exit file it is about to write),
   * anonymous volumes and the networks it was connected to (as remove() forgets them) go once the
   * shim is gone; Runtime.close() waits for that and the run's release.
   */
  private autoRemove(record: ContainerRecord, shim: Shim): void {
    this.keptLog = keepLog(this.paths().log)
    this.runtime.containers.deleteUnattended(this.id, this.name, shim.closed)
    const { removals } = this.runtime.containers
    const { networkMode } = record.hostConfig
    void removals.track(releaseRun(this.runtime, this.id, networkMode, true))
    const afterShim = async () => {
      // Only a mode that joins networks can have been connected to one (connect() refuses the others).
      if (joinsNetworks(networkMode)) this.runtime.networks.forget(this.id)
      await removeAnonymousVolumes(record.mounts ?? [], this.runtime.volumes)
    }
    void removals.track(shim.closed.then(afterShim).catch(() => {}))
  }

  /** The shim is gone: this process no longer watches the container. */
  private onShimGone(shim: Shim): void {
    if (this.runtime.shims.get(this.id) === shim) this.runtime.shims.delete(this.id)
  }

  /**
   * Whether this start's network namespace goes to the shim after the spec: a bridge or user
   * network's (milliseconds of endpoint, rules and hosts files, beside the shim's clone and mounts),
   * in a root runtime (a rootless container's user namespace must own the network namespace it
   * joins, which the shim arranges before the clone).
   */
  private joinsNetworkLate(record: ContainerRecord): boolean {
    return joinsNetworks(record.hostConfig.networkMode) && !this.runtime.rootless
  }

  private async joinNetwork(record: ContainerRecord, image: ImageRecord): Promise<{ choice: NetnsChoice; release: () => void; serving: () => Promise<void> }> {
    const mode = record.hostConfig.networkMode
    const served = async (): Promise<void> => {}
    if (mode === 'none') return { choice: { kind: 'own' }, release: () => {}, serving: served }
    if (mode === 'host') return { choice: { kind: 'host' }, release: () => {}, serving: served }
    if (mode.startsWith('container:')) {
      const other = await Container.get(mode.slice('container:'.length), { runtime: this.runtime })
      const { status, state: st } = other.observe()
      if (!runs(status) || !st.pid) throw new NotRunningError(other.id, `join the network of container ${other.name}`)
      const fd = openNetns(`/proc/${st.pid}/ns/net`)
      return { choice: { kind: 'fd', fd }, release: () => closeQuietly(fd), serving: served }
    }
    const { fd, startSettled, serving } = await joinBridgeNetwork(this.runtime, record, this.paths().hosts, record.config.exposedPorts ?? image.config.exposedPorts)
    // Released once the shim reported the start (or it failed): the network's next namespace is made then.
    return {
      choice: { kind: 'fd', fd },
      release: () => {
        closeQuietly(fd)
        startSettled()
      },
      serving,
    }
  }

  private record(): ContainerRecord {
    const r = this.runtime.containers.read(this.id)
    if (!r) throw new ContainerNotFoundError(this.name, 'it was removed')
    return r
  }

  private paths() {
    return this.runtime.containers.paths(this.id)
  }

  private layerDirs(record: ContainerRecord): string[] {
    return this.runtime.images.layerDirs(this.runtime.images.resolve(record.imageId))
  }

  /** The lower dirs the container's overlay mounts (top-most first; see runSpec), by their own paths, as `inspect()` lists them. */
  private mountedLayerDirs(record: ContainerRecord): string[] {
    const image = this.layerDirs(record)
    return this.runtime.rootless ? image : withInitLayerDir(this.runtime.root, image)
  }
}
