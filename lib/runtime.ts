/**
 * The composition root: a `Runtime` is one root directory of state
 * (images, layers, containers, volumes, networks) and builds the service of
 * each once — the image store, the container store, the volume store and
 * the network service — plus what this process knows live, the shims of
 * the containers it started. Two runtimes with different roots never see
 * each other's objects, which is how tests stay isolated.
 *
 * Every layer below takes these services through a narrow interface and
 * never imports this module; it binds the default runtime into them.
 *
 * @module
 */
import './util/dispose-symbol'
import { CgroupService } from './cgroups'
import { asMiniContainerError, RootInUseError } from './errors'
import { ImageStore } from './image/store'
import { useDefaultImageContext, useImageBuilder } from './image/image'
import { buildImage } from './builder/builder'
import { pruneBuildCache } from './builder/prune'
import { collectDeadBuildScratch } from './builder/build-scratch'
import { collectDeadThrowawayImages } from './builder/throwaway-container'
import { collectDeadSecretDirs } from './builder/secret-files'
import { ContainerStore } from './container/store'
import { useDefaultContext, type ContainerContext } from './container/context'
import { collectGarbage, isRunning, stopOwnedContainers } from './container/recovery'
import { InFlightStarts } from './container/in-flight'
import { drainShimPool, type Shim } from './shim/shim'
import { PrestartPool } from './container/prestarts'
import { prestartMaker } from './container/prestart-maker'
import { NetworkService } from './network/service'
import { useDefaultNetworkContext } from './network/network'
import { runtimeTag } from './network/names'
import { runtimeVolumeStore } from './storage/mount-lifecycle'
import { Volume } from './storage/volume'
import type { VolumeStore } from './storage/volumes'
import { debug } from './util/debug'
import { removeTreeAt } from './files/tree'
import { optionsObject } from './util/options-object'
import { prepareRuntimeRoot } from './util/runtime-root'
import { preflight, type PreflightReport } from './rootless/preflight'
import { prepareStateDir, resolveRootless, rootlessDataDir, rootlessStateDir, type RootlessOption } from './rootless/mode'
import { RootlessNetworkService } from './rootless/network-service'
import { requireUserNamespaces } from './rootless/start-check'
import { RootlessCgroupService } from './rootless/cgroup-service'
import { requireKernelFeatures } from './sys/kernel'
import { RootlessIdentity, idOverflowOption, type IdOverflow } from './rootless/identity'
import { collectDeadOwnedGroups } from './container/owned-groups'

/** Options of {@link Runtime}. */
export interface RuntimeOptions {
  /**
   * State directory, created when missing; it must be writable. Default: $MINICONTAINER_ROOT (when not empty), else
   * /var/lib/minicontainer as root, and $XDG_DATA_HOME/minicontainer (~/.local/share/minicontainer) rootless.
   */
  root?: string
  /**
   * 'auto' (the default): rootless when the process's effective uid is not 0. `true` forces rootless mode,
   * `false` requires root (EPERM without it). A rootless runtime keeps its runtime state in
   * $XDG_RUNTIME_DIR/minicontainer, else /tmp/minicontainer-<uid> (0700, owner checked: EUNSAFE otherwise).
   *
   * Rootless mode: images (pull, import, fromHost, save, load), volumes and containers. With a subordinate id range (/etc/subuid, /etc/subgid) and the setuid
   * newuidmap/newgidmap (the uidmap package), every container joins one user namespace held for the
   * runtime (0 inside is you, 1..N your subordinate ids, as podman maps them; `mc-shim keeper`, ended by
   * close() or this process's death), image files keep their owners (uid u inside is subuid start+u-1
   * on the host; see {@link RuntimeOptions.idOverflow}) and a non-root `user` works. Without one, each
   * container maps you alone: image files owned by other ids are yours, a `MINICONTAINER_SINGLE_UID`
   * warning says so once, and a non-root `user` is EUNSUPPORTED naming the fix. With a range, the
   * default bridge and user networks live in a network namespace the keeper holds, and published ports
   * are relayed from host sockets; `host` and `container:` networks, `devices`, and limits without a
   * delegated cgroup v2 directory are EUNSUPPORTED, naming what to do instead; a host that refuses
   * user namespaces gives EUSERNS (the message names the cause and the fix) at the first create or
   * start. See {@link Runtime.preflight}.
   */
  rootless?: RootlessOption
  /**
   * Rootless with a subordinate id range: what to do with an image file owned by a uid or gid beyond the
   * range when a layer is unpacked. 'error' (the default): EIDRANGE naming the file, the id and the range.
   * 'squash': the file goes to root inside (you, on the host), listed in a `MINICONTAINER_ID_SQUASHED`
   * warning. A runtime option, not a run option: a layer is unpacked once into the store and shared by every
   * image and container that uses it, so its owners are settled at pull, load or import time.
   */
  idOverflow?: IdOverflow
  /**
   * Address pools (CIDRs) that the default bridge and user networks without
   * an explicit subnet are carved from. Default: free /16s and /24s in
   * 10.x, avoiding every route the host has (docker0, podman...).
   */
  subnetPool?: string[]
  /**
   * Pre-start containers (default true): once `run()` has run a shape twice (image, network `none`,
   * limits, read-only root, log options... everything but the process), a container of that shape is
   * set up ahead, up to its process, while this process is otherwise idle, and the next `run()` of the
   * shape only starts its program in it. Unclaimed, it is no container (`Container.list()` does not show
   * it); it costs a waiting process, a cgroup and an overlay mount, for at most 30 s and two shapes, and
   * `close()` or this process's exit ends it. `false`: every run sets its container up itself.
   */
  prestart?: boolean
}

const defaultRootDir = '/var/lib/minicontainer'

/** Options of {@link Runtime.close}. */
export interface CloseOptions {
  /**
   * Then delete the root directory and everything in it: images, volumes, stopped containers, logs (a
   * throwaway root, e.g. a test's). Rootless, files of the user's subordinate ids go too (removed inside
   * the runtime's user namespace). EINUSE, removing nothing, when a container of the root still runs.
   */
  removeRoot?: boolean
}

/**
 * An isolated store of images, containers, volumes and networks; the
 * module-level API uses {@link Runtime.default}. `await using rt = new
 * Runtime({ root })` (or `await rt.close()`) stops the containers this
 * process started in it and removes its bridges and firewall rules.
 */
export class Runtime implements ContainerContext, AsyncDisposable {
  /** State directory. */
  readonly root: string
  /** Whether this runtime is rootless (see {@link RuntimeOptions.rootless}). */
  readonly rootless: boolean
  /** A rootless runtime's private state directory (0700, the caller's). @internal */
  readonly stateDir: string | undefined
  /** A rootless runtime's ids: its user namespace keeper and the owners of its files. @internal */
  readonly userIds: RootlessIdentity | undefined
  /** Layers, images and refs. @internal */
  readonly images: ImageStore
  /** Container records and names. @internal */
  readonly containers: ContainerStore
  /** Volumes; a volume is in use while a container record mounts it. @internal */
  readonly volumes: VolumeStore
  /** Networks, container endpoints and published ports. @internal */
  readonly networks: NetworkService
  /** The containers' cgroups, under a parent cgroup named after this runtime. @internal */
  readonly cgroups: CgroupService
  /** Shims of containers started by this process, by container id. @internal */
  readonly shims = new Map<string, Shim>()
  /** The creates and starts under way, which close() waits for; refuses new ones once it closes. @internal */
  readonly starts: InFlightStarts
  /** Containers pre-started for the shapes this process runs again and again. @internal */
  readonly prestarts: PrestartPool
  private recovered: Promise<void> | undefined
  private static defaultRuntime: Runtime | undefined

  /** Opens (creating if needed) the runtime rooted at `opts.root`. */
  constructor(opts: RuntimeOptions = {}) {
    // The one public constructor that does work; the boundary (guardClass) cannot wrap a constructor in place.
    try {
      const options = optionsObject(opts, 'new Runtime()')
      this.rootless = resolveRootless(options.rootless)
      requireKernelFeatures({ rootless: this.rootless })
      this.root = prepareRuntimeRoot(options.root, this.rootless ? rootlessDataDir() : defaultRootDir)
      this.stateDir = this.rootless ? prepareStateDir(rootlessStateDir()) : undefined
      this.starts = new InFlightStarts(this.root, this.rootless ? requireUserNamespaces : undefined)
      this.userIds = this.rootless ? new RootlessIdentity(this.root, idOverflowOption(options.idOverflow)) : undefined
      this.images = new ImageStore(this.root, (imageId) => this.containers.ids().filter((id) => this.containers.read(id)?.imageId === imageId), this.userIds)
      this.containers = new ContainerStore(this.root, this.userIds)
      const netOpts = { root: this.root, subnetPool: opts.subnetPool }
      const userIds = this.userIds
      this.networks = userIds ? new RootlessNetworkService({ ...netOpts, ids: userIds }) : new NetworkService(netOpts)
      const scope = `minicontainer-${runtimeTag(this.root)}`
      this.cgroups = this.rootless ? new RootlessCgroupService(scope) : new CgroupService(scope, undefined, this.root)
      this.prestarts = new PrestartPool(prestartMaker(this), options.prestart ?? true)
      this.volumes = runtimeVolumeStore(this.root, () => this.containers.ids().map((id) => this.containers.read(id)))
    } catch (err) {
      throw asMiniContainerError(err)
    }
  }

  /**
   * Checks what rootless mode needs on this host, for real (mc-shim makes a
   * user namespace and mounts a tmpfs and an overlay in it), and reports each
   * check with what was found and, when it fails, the exact fix. Changes
   * nothing. Also `npx minicontainer doctor [--json]`.
   */
  static preflight(): Promise<PreflightReport> {
    return preflight()
  }

  /** Closes the default runtime if this process opened one (a CLI's last step); opens none. @internal */
  static async closeDefault(): Promise<void> {
    await Runtime.defaultRuntime?.close()
  }

  /** The runtime used when none is passed: rooted at $MINICONTAINER_ROOT or /var/lib/minicontainer. */
  static default(): Runtime {
    // A closed default is replaced, so that code which closes it at its end (a test file's afterAll)
    // does not leave the rest of the process with a runtime that refuses everything.
    if (!Runtime.defaultRuntime || Runtime.defaultRuntime.starts.closed) Runtime.defaultRuntime = new Runtime()
    return Runtime.defaultRuntime
  }

  /**
   * Collects, once per process, what a crashed process left on this root:
   * network rules and interfaces of dead containers, exited auto-remove
   * containers, unfinished creates (like a daemon's recovery at start), and
   * the networks and volumes of compose projects whose owner process died;
   * once it has resolved, in the background, the temporary files (and tmpfs
   * secret files) and throwaway images of builds whose process died.
   */
  ready(): Promise<void> {
    if (!this.recovered) {
      // Compose projects after containers: a dead owner's networks and volumes are free once its containers are gone.
      this.recovered = collectGarbage(this).then(() => collectDeadOwnedGroups(this.root, this.networks, this.volumes))
      // After ready() resolves, off the start path: no start waits for dead builds' files, which only ever get
      // names of their own (pid and start time), so removing them later races nothing.
      this.recovered.then(() => setImmediate(() => this.collectDeadBuilds()), () => {})
    }
    return this.recovered
  }

  /** Removes the temporary files (and tmpfs secret directories) and throwaway images of build processes that no longer run. */
  private collectDeadBuilds(): void {
    try {
      collectDeadBuildScratch(this.root, (dir) => (this.userIds ? this.userIds.removeTree(dir) : removeTreeAt(dir)))
      collectDeadSecretDirs(!!this.userIds)
      collectDeadThrowawayImages(this.images).catch((err: Error) => debug('collecting dead builds\' throwaway images on %s failed: %s', this.root, err.message))
    } catch (err) {
      debug('collecting dead builds\' files on %s failed: %s', this.root, (err as Error).message)
    }
  }

  /**
   * Closes the runtime. From the call on, it starts nothing more: create,
   * run, start and exec are refused with ECLOSED (open a new `Runtime` on the
   * root to go on; `Runtime.default()` does so itself once its runtime is closed); reading (list, inspect, logs, wait), stop and remove still
   * work. Creates and starts under way are waited for, then every container
   * this process started in it is killed (SIGKILL, as `docker rm -f`), except
   * `detach`ed ones (and `reuse`, which implies detach), which are made to
   * outlive the process. Killed containers stay on disk, exited, unless
   * created with `rm: true` (whose removal, files included, is waited for). Then, when no container of the root still runs
   * (a detached one, or one of another process), its bridges, firewall rules,
   * nf_tables table and parent cgroup are removed; a running container keeps
   * them. Its sockets close and the spare shim kept warm for the next start
   * ends (and, rootless, the keeper of its user namespace). Images, volumes and
   * stopped containers stay on disk, unless `removeRoot` (see {@link CloseOptions}).
   */
  async close(options: CloseOptions = {}): Promise<void> {
    const { removeRoot } = optionsObject(options, 'close()')
    await this.starts.settleAndRefuse()
    await this.prestarts.drain()
    await stopOwnedContainers(this)
    await this.containers.dropSpare()
    // rm: true containers' files and runs' releases (relays of published ports among them), begun after wait() answered.
    await this.containers.removals.settled()
    const running = this.containers.ids().filter((id) => isRunning(this, id))
    const stillRunning = running.length > 0
    if (!stillRunning) {
      await this.networks.destroy()
      await this.cgroups.removeScope()
    }
    this.cgroups.close()
    await this.networks.close()
    await drainShimPool()
    if (removeRoot) this.removeRoot(running)
    this.userIds?.close()
    this.recovered = undefined
    debug('runtime %s closed (networks %s)', this.root, stillRunning ? 'kept: containers still run' : 'removed')
  }

  /** close()'s removeRoot: the whole root, once no container runs in it; through the user namespace when rootless. */
  private removeRoot(running: string[]): void {
    if (running.length) throw new RootInUseError(this.root, running)
    if (this.userIds) this.userIds.removeTree(this.root)
    else removeTreeAt(this.root)
  }

  /**
   * Removes the host network objects this runtime made: its default bridge
   * (which otherwise persists between containers, like docker0), user
   * networks' bridges and its nf_tables table. Remove its containers first.
   * @deprecated use {@link Runtime.close}, which also stops the runtime's containers.
   */
  async destroyNetworks(): Promise<void> {
    await this.networks.destroy()
    await this.networks.close()
  }

  /** `await using rt = new Runtime({ root })` closes it at the end of the scope (keeping the root). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

// The layers below reach the default runtime through these bindings, never by importing this module.
useDefaultContext(() => Runtime.default())
useDefaultImageContext(() => Runtime.default())
useImageBuilder({ build: buildImage, pruneCache: pruneBuildCache })
useDefaultNetworkContext(() => Runtime.default())
Volume.useDefaultStore(() => Runtime.default().volumes)
