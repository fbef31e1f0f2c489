/**
 * The public option and result types of containers.
 * @module
 */
import type { ResourceOptions, Resources } from '../cgroups'
import type { Healthcheck } from '../image/oci-config'
import type { ExitStatus } from '../shim/shim'
import type { MountOption, MountRecord, MountRunOptions, ResolvedMount } from '../storage/mount-types'
import type { NetworkRunOptions, NetworkSettings } from '../network/types'
import type { HealthConfig } from '../harness/health-config'
import type { FileSpec } from '../harness/files'
import type { HealthState } from '../harness/target'
import type { PullPolicy } from '../image/registry/policy'
import type { PullOptions } from '../image/registry/pull'

/** How a container joins the network. */
export type NetworkMode = 'none' | 'host' | 'bridge' | `container:${string}` | (string & {})

/** Options of {@link run} and `Container.create`, named like `docker run`'s flags. */
export interface RunOptions extends MountRunOptions, NetworkRunOptions, ResourceOptions {
  /** Container name (`--name`); generated when omitted. */
  name?: string
  /** Hostname inside (`--hostname`); defaults to the first 12 digits of the id. */
  hostname?: string
  /** Environment, as an object or as `K=v` strings; added to the image's. */
  env?: Record<string, string> | string[]
  /** Working directory (`-w`); created when missing. */
  workdir?: string
  /** `uid[:gid]` or a user name from the image's /etc/passwd (`-u`). */
  user?: string
  /** Extra supplementary groups, as names from the image's /etc/group or gids (`--group-add`). */
  groupAdd?: string[]
  /** Replaces the image's entrypoint. */
  entrypoint?: string[]
  /** Run a minimal init as PID 1 that forwards signals and reaps zombies (`--init`). */
  init?: boolean
  /** Remove the container once it exits (`--rm`). */
  rm?: boolean
  /** Let the container outlive this Node process (`-d`). Otherwise it dies with it. */
  detach?: boolean
  /** Network mode (`--network`): "bridge" (the default), "host", "none", "container:<name>" or a user network's name. */
  network?: NetworkMode
  /** Extra capabilities (`--cap-add`), e.g. ["NET_ADMIN"]. */
  capAdd?: string[]
  /** Capabilities to drop (`--cap-drop`), e.g. ["ALL"]. */
  capDrop?: string[]
  /** All capabilities, no masked paths, writable /sys (`--privileged`). */
  privileged?: boolean
  /** Read-only root filesystem (`--read-only`). */
  readOnly?: boolean
  /**
   * `--security-opt`: "seccomp=unconfined", "seccomp=<path to a profile in Docker's JSON format>",
   * "no-new-privileges". Without a seccomp option, Docker's default profile applies (not with `privileged`).
   */
  securityOpt?: string[]
  /** Labels for your own bookkeeping. */
  labels?: Record<string, string>
  /** Cancels a start in flight (and its pull); what it made is removed again. */
  signal?: AbortSignal
  /** A health check (Docker's HEALTHCHECK); overrides the image's, `{ test: ['NONE'] }` disables it. Durations in ms. */
  healthcheck?: HealthConfig
  /** Files placed in the container before its program starts. */
  files?: FileSpec[]
  /**
   * When to pull the image from its registry (`--pull`): 'missing' (the
   * default) when no local image matches the reference, 'always' every
   * time (cheap when the layers are present: a manifest fetch), 'never'.
   */
  pull?: PullPolicy
  /** How to pull: auth, insecure, platform, onProgress, concurrency (see `Image.pull`). */
  pullOptions?: Omit<PullOptions, 'signal'>
}

/** What was asked for, stored in config.json. */
export interface ContainerRecord {
  id: string
  name: string
  /** The image reference as given. */
  image: string
  imageId: string
  created: string
  /** Volumes, binds and tmpfs, resolved at create (see lib/storage/mount-lifecycle). @internal */
  mounts?: ResolvedMount[]
  /** Memory, CPU and pids limits, ulimits and shm size (see lib/cgroups), updated by `update()`. */
  resources?: Resources
  config: {
    cmd: string[]
    entrypoint: string[]
    env: string[]
    workdir: string
    user: string
    hostname: string
    labels: Record<string, string>
    /** The image's StopSignal ("SIGQUIT"), sent first by stop(); absent means SIGTERM. */
    stopSignal?: NodeJS.Signals
    /** The effective health check (Docker's form, durations in ns): the healthcheck option over the image's. */
    healthcheck?: Healthcheck
  }
  hostConfig: {
    networkMode: NetworkMode
    init: boolean
    autoRemove: boolean
    detach: boolean
    privileged: boolean
    readonlyRootfs: boolean
    capAdd: string[]
    capDrop: string[]
    /** `--group-add`. */
    groupAdd: string[]
    /** `-v` strings as given (inspect().mounts shows them resolved). */
    binds: string[]
    /** `--mount` options as given. */
    mountOptions: MountOption[]
    /** tmpfs mounts as given. */
    tmpfs: Record<string, string> | string[]
    /** `-p` specs. */
    portBindings: string[]
    /** `-P`. */
    publishAllPorts: boolean
    /** `--link` specs. */
    links: string[]
    /** Static address and aliases on the primary (user) network. */
    networkingConfig: { ip?: string; aliases: string[] }
    /** `--security-opt` as given, with a seccomp profile path replaced by the profile's JSON text (read at create). */
    securityOpt: string[]
  }
}

/** Lifecycle status, as Docker names it. */
export type ContainerStatus = 'created' | 'running' | 'paused' | 'exited' | 'removing'

/** What is happening, stored in state.json. */
export interface ContainerState {
  status: ContainerStatus
  /** Host pid of the container's PID 1 while running. */
  pid?: number
  /** Start time of that pid (from /proc/<pid>/stat), to tell it from a reused pid. */
  pidStart?: string
  startedAt?: string
  finishedAt?: string
  exitCode?: number
  signal?: NodeJS.Signals
  /** The kernel's OOM killer killed a process of the container (read from its cgroup when it exited). */
  oomKilled?: boolean
}

/** Docker-like `inspect()` result. */
export interface ContainerInspect {
  id: string
  name: string
  image: string
  imageId: string
  created: string
  path: string
  args: string[]
  state: {
    status: ContainerStatus
    running: boolean
    pid: number
    exitCode: number
    /** Frozen by `pause()`; `status` is then 'paused', as in Docker. */
    paused: boolean
    /** The kernel's OOM killer killed a process of the container (its cgroup's counter, not a guess from the exit code). */
    oomKilled: boolean
    startedAt: string
    finishedAt: string
    /** Present when a health check is configured. */
    health?: HealthState
  }
  config: ContainerRecord['config']
  hostConfig: ContainerRecord['hostConfig']
  /** Volumes, binds and tmpfs, like Docker's `Mounts`. */
  mounts: MountRecord[]
  graphDriver: { name: 'overlay'; data: { lowerDir: string; upperDir: string; workDir: string; mergedDir: string } }
  /** Addresses, gateway, MAC, published ports and networks (bridge modes); empty values otherwise. */
  networkSettings: NetworkSettings
  /** Bytes in the writable layer (with `inspect({ size: true })`). */
  sizeRw?: number
  /** Bytes in the whole view: writable layer plus image layers (with `inspect({ size: true })`). */
  sizeRootFs?: number
  /** Paths of the logs and the /etc files the runtime provides. */
  logPath: string
  hostsPath: string
  hostnamePath: string
  resolvConfPath: string
}

/** Result of {@link Container.exec}. */
export interface ExecResult extends ExitStatus {
  stdout: string
  stderr: string
}

/** Options of {@link Container.exec}. */
export interface ExecOptions {
  env?: Record<string, string> | string[]
  workdir?: string
  user?: string
  privileged?: boolean
  /** Bytes for the process's standard input. */
  stdin?: string | Buffer
}

/** Options of {@link Container.logs}. */
export interface LogsOptions {
  /** Keep the stream open and deliver new output until the container exits. */
  follow?: boolean
  /** Include standard output (default true). */
  stdout?: boolean
  /** Include standard error (default true). */
  stderr?: boolean
}

export type { ExitStatus }
