/**
 * A runtime is one root directory of state (images, layers, containers,
 * names) plus what this process knows live: the shims of the containers it
 * started. Two runtimes with different roots never see each other's
 * objects, which is how tests stay isolated.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { PermissionError } from './errors'
import { ImageStore } from './image/store'
import { ContainerStore } from './container/store'
import type { Shim } from './shim/shim'
import { configureNetwork, teardownNetworks } from './network/lifecycle'
import { runtimeVolumeStore } from './storage/mount-lifecycle'
import type { VolumeStore } from './storage/volumes'

/** Options of {@link Runtime}. */
export interface RuntimeOptions {
  /** State directory. Default: $MINICONTAINER_ROOT, else /var/lib/minicontainer. */
  root?: string
  /** Directory for state that must not survive a reboot. Default: /run/minicontainer, or `<root>/run` for a custom root. */
  runRoot?: string
  /**
   * Address pools (CIDRs) that the default bridge and user networks without
   * an explicit subnet are carved from. Default: free /16s and /24s in
   * 10.x, avoiding every route the host has (docker0, podman...).
   */
  subnetPool?: string[]
}

const defaultRootDir = '/var/lib/minicontainer'

/** An isolated store of images and containers; the module-level API uses {@link Runtime.default}. */
export class Runtime {
  /** State directory. */
  readonly root: string
  /** Volatile state directory. */
  readonly runRoot: string
  /** Layers, images and refs. @internal */
  readonly images: ImageStore
  /** Container records and names. @internal */
  readonly containers: ContainerStore
  /** Volumes; a volume is in use while a container record mounts it. */
  readonly volumes: VolumeStore
  /** Shims of containers started by this process, by container id. @internal */
  readonly shims = new Map<string, Shim>()
  /** Cleanups run once per runtime per process (see Container's garbage collection). */
  private readonly onceTasks = new Map<string, Promise<void>>()
  private static defaultRuntime: Runtime | undefined

  /** Opens (creating if needed) the runtime rooted at `opts.root`. */
  constructor(opts: RuntimeOptions = {}) {
    if (process.geteuid?.() !== 0)
      throw new PermissionError(
        'minicontainer needs root: namespaces, mounts and network setup require it. Run the program as root (e.g. sudo node app.js); rootless mode is not supported yet',
      )
    const envRoot = process.env.MINICONTAINER_ROOT
    this.root = path.resolve(opts.root ?? envRoot ?? defaultRootDir)
    const customRoot = opts.root !== undefined || envRoot !== undefined
    this.runRoot = path.resolve(opts.runRoot ?? (customRoot ? path.join(this.root, 'run') : '/run/minicontainer'))
    fs.mkdirSync(this.root, { recursive: true, mode: 0o711 })
    fs.mkdirSync(this.runRoot, { recursive: true, mode: 0o711 })
    this.images = new ImageStore(this.root)
    this.containers = new ContainerStore(this.root)
    if (opts.subnetPool) configureNetwork(this, { subnetPool: opts.subnetPool })
    this.volumes = runtimeVolumeStore(this.root, () => this.containers.ids().map((id) => this.containers.read(id)))
  }

  /** The runtime used when none is passed: rooted at $MINICONTAINER_ROOT or /var/lib/minicontainer. */
  static default(): Runtime {
    Runtime.defaultRuntime ??= new Runtime()
    return Runtime.defaultRuntime
  }

  /**
   * Removes the host network objects this runtime made: its default bridge
   * (which otherwise persists between containers, like docker0), user
   * networks' bridges and its nf_tables table. For temporary runtimes (a
   * test harness's); remove its containers first. Using the runtime again
   * recreates what it needs.
   */
  async destroyNetworks(): Promise<void> {
    await teardownNetworks(this)
  }

  /** Runs `task` at most once per runtime in this process (e.g. garbage collection at start). */
  once(key: string, task: () => Promise<void>): Promise<void> {
    let p = this.onceTasks.get(key)
    if (!p) {
      p = task()
      this.onceTasks.set(key, p)
    }
    return p
  }
}

/** Which runtime an operation applies to (default: {@link Runtime.default}). */
export interface RuntimeOption {
  runtime?: Runtime
}

/** Picks the runtime from an options object, falling back to the default one. */
export function runtimeOf(opts?: RuntimeOption): Runtime {
  return opts?.runtime ?? Runtime.default()
}
