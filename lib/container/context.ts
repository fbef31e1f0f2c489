/**
 * What the container layer needs from a runtime, as an interface: the
 * stores and services a `Runtime` builds once per root. The container
 * layer composes them and never imports the `Runtime` class itself (which
 * sits above it and provides the default context).
 *
 * @module
 */
import type { CgroupService } from '../cgroups'
import { DefaultBinding } from '../util/default-binding'
import type { ImageStore } from '../image/store'
import type { NetworkService } from '../network/service'
import type { Shim } from '../shim/shim'
import type { RootlessIdentity } from '../rootless/identity'
import type { InFlightStarts } from './in-flight'
import type { PrestartPool } from './prestarts'
import type { VolumeStore } from '../storage/volumes'
import type { ContainerStore } from './store'

/** The services of one runtime root, as the container layer uses them. A {@link Runtime} is one. */
export interface ContainerContext {
  /** State directory. */
  readonly root: string
  /** Whether containers run in a user namespace of their own, root inside being the caller (see RuntimeOptions.rootless). */
  readonly rootless: boolean
  /** A rootless runtime's ids: the user namespace its containers join, and the owners of its files. @internal */
  readonly userIds?: RootlessIdentity
  /** Layers, images and refs. @internal */
  readonly images: ImageStore
  /** Container records and names. @internal */
  readonly containers: ContainerStore
  /** Volumes; a volume is in use while a container record mounts it. @internal */
  readonly volumes: VolumeStore
  /** Networks, endpoints, published ports. @internal */
  readonly networks: NetworkService
  /** The containers' cgroups (limits, stats, freezer). @internal */
  readonly cgroups: CgroupService
  /** Shims of the containers this process started, by container id. @internal */
  readonly shims: Map<string, Shim>
  /** The creates and starts under way, which close() waits for; refuses new ones once it closes. @internal */
  readonly starts: InFlightStarts
  /** Containers pre-started for the shapes this process runs again and again (prestarts.ts). @internal */
  readonly prestarts: PrestartPool
  /** Resolves once what a crashed process left on this root has been collected (runs once per process). */
  ready(): Promise<void>
}

/** Which runtime an operation applies to (default: `Runtime.default()`). */
export interface RuntimeOption {
  /** A {@link Runtime} (or anything providing its services); omitted, the default runtime. */
  runtime?: ContainerContext
}

const defaultContext = new DefaultBinding<ContainerContext>()

/** Binds the context used when an operation gets no `runtime` (called once by the runtime module). */
export function useDefaultContext(provider: () => ContainerContext): void {
  defaultContext.bind(provider)
}

/** The context of an options object: its `runtime`, else the default one. */
export function contextOf(opts?: RuntimeOption): ContainerContext {
  return defaultContext.of(opts?.runtime)
}
