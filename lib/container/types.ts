/**
 * The public option and result types of containers.
 * @module
 */
import type { ResourceOptions, Resources } from '../cgroups'
import type { Healthcheck } from '../image/oci-config'
import type { ExitStatus } from '../shim/shim'
import type { MountOption, MountRecord, MountRunOptions, ResolvedMount } from '../storage/mount-types'
import type { NetworkRunOptions, NetworkSettings } from '../network/types'
import type { Network } from '../network/network'
import type { HealthConfig } from '../harness/health-config'
import type { FileSpec } from '../harness/files'
import type { HealthState } from '../harness/target'
import type { PullPolicy } from '../image/registry/policy'
import type { PullOptions } from '../image/registry/pull'
import type { LogTime } from '../util/log-time'
import type { ProcessIdentity } from '../util/process-identity'
import type { DeviceOption, DeviceRecord } from './device-mappings'
import type { RestartPolicy, RestartPolicyOption } from './restart-policy'

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
  /**
   * Rootless only (`--userns=keep-id`): `'keep-id'` maps your uid and gid to themselves inside, so a
   * non-root program writes your bind-mounted files as you, and runs as your uid:gid unless `user` says
   * otherwise. Root inside is then your first subordinate id, and the image's files that were root's
   * appear as your uid. Needs a subordinate range (EUNSUPPORTED without one); EINVALID as root, whose ids
   * inside are the host's already.
   */
  userns?: 'keep-id'
  /** Extra supplementary groups, as names from the image's /etc/group or gids (`--group-add`). */
  groupAdd?: string[]
  /** Replaces the image's entrypoint. */
  entrypoint?: string[]
  /** Run a minimal init as PID 1 that forwards signals and reaps zombies (`--init`). */
  init?: boolean
  /** Remove the container once it exits (`--rm`). */
  rm?: boolean
  /**
   * Restart policy (`--restart`): "no" (the default); "always" and "unless-stopped" bring the program
   * back whenever it ends, "on-failure[:N]" when it exits non-zero (at most N times in a row). This
   * process restarts it while it lives, with Docker's delay (100 ms, doubled each time up to a minute,
   * reset after 10 s of running); `stop()`, `kill()` and `remove()` are never undone, and the count is
   * `inspect().restartCount`. Not with `rm`.
   */
  restart?: RestartPolicyOption
  /**
   * Let the container outlive this Node process (`-d`). Otherwise it dies with it, and the next
   * runtime start on its root removes it with its anonymous volumes (unless `keepOnOwnerDeath`).
   */
  detach?: boolean
  /**
   * Keep a container that is not detached after the process that ran it died (Ctrl-C, a crash),
   * stopped, for a post-mortem. By default it is garbage: the next runtime start on its root
   * removes it with its writable layer and anonymous volumes, as `rm: true` containers.
   */
  keepOnOwnerDeath?: boolean
  /** Network mode (`--network`): "bridge" (the default), "host", "none", "container:<name>", a user network's name, or a `Network` (from `Network.create`). */
  network?: NetworkMode | Network
  /** Extra capabilities (`--cap-add`), e.g. ["NET_ADMIN"]. */
  capAdd?: string[]
  /** Capabilities to drop (`--cap-drop`), e.g. ["ALL"]. */
  capDrop?: string[]
  /** All capabilities, every device, no masked paths, writable /sys (`--privileged`). */
  privileged?: boolean
  /**
   * Devices the container may use besides Docker's defaults (`--device-cgroup-rule`), as
   * devices cgroup rules "<a|c|b> <major|*>:<minor|*> <rwm>", e.g. ["c 1:11 rw"]. Without
   * them a container may make any device node but open only /dev/null, zero, full, random,
   * urandom, tty, console, ptmx, the pseudo-terminals and net/tun (EPERM for the rest).
   */
  deviceCgroupRules?: string[]
  /**
   * Host devices in the container (`--device`): "/dev/fuse", "/dev/loop0:/dev/xvda:r" or
   * `{ pathOnHost, pathInContainer?, cgroupPermissions? }`. Each is made in the container
   * (at the host path, or `pathInContainer`) with the host node's type, numbers, mode and
   * owner, and its device rule allows what `cgroupPermissions` ("rwm" by default) says.
   * Checked at create: the host path must be a char or block device now.
   */
  devices?: DeviceOption[]
  /** Read-only root filesystem (`--read-only`). */
  readOnly?: boolean
  /**
   * `--security-opt`: "seccomp=unconfined", "seccomp=<path to a profile in Docker's JSON format>",
   * "no-new-privileges". Without a seccomp option, Docker's default profile applies (not with `privileged`).
   */
  securityOpt?: string[]
  /**
   * Namespaced kernel parameters (`--sysctl`), set in the container before its program runs, e.g.
   * `{ 'net.ipv4.ip_unprivileged_port_start': '0' }`: net.* (not with the host's or another
   * container's network), fs.mqueue.*, kernel.domainname and the IPC ones (kernel.msg*, kernel.sem,
   * kernel.shm*). Others would change the host: EINVALID.
   */
  sysctls?: Record<string, string>
  /** Labels for your own bookkeeping. */
  labels?: Record<string, string>
  /** The signal `stop()` sends first (`--stop-signal`): "SIGQUIT", "QUIT" or "3"; default the image's StopSignal, else SIGTERM. */
  stopSignal?: string
  /** Seconds `stop()` waits after the stop signal before SIGKILL when it is given no timeout (`--stop-timeout`); default 10. */
  stopTimeout?: number
  /** Ports exposed besides the image's (`--expose`): "8080", "8080/tcp", "53/udp" or a range "8000-8002". They are published by `publishAll` and waited on by `Wait.forListeningPorts`. */
  expose?: string[]
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
  /** How to pull: auth, insecure, certsDir, platform, onProgress, concurrency (see `Image.pull`). */
  pullOptions?: Omit<PullOptions, 'signal'>
  /**
   * Rotate the log at this size (json-file's `max-size`): bytes, or a
   * string with json-file's decimal units, '10m' being 10 000 000 bytes.
   * Default: unbounded.
   */
  logMaxSize?: number | string
  /** Log files kept with `logMaxSize`, the current one included (json-file's `max-file`, default 1). */
  logMaxFiles?: number
}

/** How the container's output is kept (Docker's `HostConfig.LogConfig`, json-file). */
export interface LogConfig {
  /** Always "json-file": one JSON record per line, as Docker's default log driver writes them. */
  type: 'json-file'
  /** Bytes a file may hold before it rotates; 0 is unbounded. */
  maxSize: number
  /** Files kept, the current one included. */
  maxFiles: number
}

/** What was asked for, stored in config.json; users see it as `inspect().config` and `inspect().hostConfig`. @internal */
export interface ContainerRecord {
  /** Full id, 64 hex digits; `Container.get()` also takes a unique prefix. */
  id: string
  /** Name (`--name`), unique within the runtime; generated ("adjective_noun_1a2b") when not given. */
  name: string
  /** The image reference as given. */
  image: string
  /** "sha256:<hex>" id of the image the container was created from (Docker's `Image`). */
  imageId: string
  /** Creation time, ISO 8601. */
  created: string
  /** The process that created it; it owns the container until one starts it (then `ContainerState.owner`). @internal */
  owner?: ProcessIdentity
  /** Volumes, binds and tmpfs, resolved at create (see lib/storage/mount-lifecycle). @internal */
  mounts?: ResolvedMount[]
  /** Memory, CPU and pids limits, ulimits and shm size (see lib/cgroups), updated by `update()`. */
  resources?: Resources
  /** What runs and how (Docker's `Config`): the options merged over the image's defaults. */
  config: {
    /** The command: run()'s `cmd`, else the image's Cmd (cleared by an `entrypoint` option); appended to `entrypoint`. */
    cmd: string[]
    /** The `entrypoint` option, else the image's Entrypoint; [] for none. */
    entrypoint: string[]
    /** Environment as "K=v" strings: the image's, overridden and extended by the `env` option. */
    env: string[]
    /** Working directory: the `workdir` option, else the image's WorkingDir, else "/". */
    workdir: string
    /** `uid[:gid]` or user name the program runs as: the `user` option, else the image's User; "" is root. */
    user: string
    /** The container's hostname: the `hostname` option, else the first 12 digits of the id. */
    hostname: string
    /** The image's labels, overridden and extended by the `labels` option. */
    labels: Record<string, string>
    /** The `stopSignal` option, else the image's StopSignal ("SIGQUIT"), sent first by stop(); absent means SIGTERM. */
    stopSignal?: NodeJS.Signals
    /** The `stopTimeout` option: seconds stop() waits before SIGKILL by default; absent means 10. */
    stopTimeout?: number
    /** The image's exposed ports and the `expose` option's ("80/tcp"); absent in records made before `expose`: the image's. */
    exposedPorts?: string[]
    /** The effective health check (Docker's form, durations in ns): the healthcheck option over the image's. */
    healthcheck?: Healthcheck
  }
  /** How it is run on the host (Docker's `HostConfig`): the `run()` options as given, with their defaults. */
  hostConfig: {
    /** The `network` option: "bridge" (the default), "host", "none", "container:<name>" or a user network's name. */
    networkMode: NetworkMode
    /** `--init`: a minimal init is PID 1. */
    init: boolean
    /** `--rm`: the container is removed once it exits. */
    autoRemove: boolean
    /** `--restart`; absent: "no". */
    restartPolicy?: RestartPolicy
    /** `-d`: the container outlives the Node process that started it. */
    detach: boolean
    /** Kept, stopped, after its owner died (without it, an owned container is removed then); absent in older records: false. */
    keepOnOwnerDeath?: boolean
    /** `--privileged`. */
    privileged: boolean
    /** `--userns=keep-id` (rootless): your ids are yours inside; absent otherwise. */
    usernsMode?: 'keep-id'
    /** `--device-cgroup-rule`, as given (checked at create); absent in records made before device rules. */
    deviceCgroupRules?: string[]
    /** `--device`, each with its defaults filled in (checked at create); absent in records made before devices. */
    devices?: DeviceRecord[]
    /** `--read-only`: the root filesystem is mounted read-only. */
    readonlyRootfs: boolean
    /** `--cap-add`, as given. */
    capAdd: string[]
    /** `--cap-drop`, as given. */
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
    /** `--add-host` entries as given ("name:IPv4", "name:host-gateway"); absent in records made before host-gateway. */
    extraHosts?: string[]
    /** `exposeHostPorts` as given (absent when none). */
    exposeHostPorts?: number[]
    /** Static address and aliases on the primary (user) network. */
    networkingConfig: {
      /** `--ip`: the requested static address; absent means the lowest free one. */
      ip?: string
      /** `--network-alias`: extra names on that network. */
      aliases: string[]
    }
    /** `--security-opt` as given, with a seccomp profile path replaced by the profile's JSON text (read at create). */
    securityOpt: string[]
    /** `--sysctl`, checked at create; absent when none was given. */
    sysctls?: Record<string, string>
    /** The log's bounds (`logMaxSize`, `logMaxFiles`); absent in records made before logs rotated: unbounded. */
    logConfig?: LogConfig
  }
}

export type { ProcessIdentity } from '../util/process-identity'

/** Lifecycle status, as Docker names it. */
export type ContainerStatus = 'created' | 'running' | 'paused' | 'exited' | 'removing'

/** What is happening, stored in state.json; users see it as `inspect().state`. @internal */
export interface ContainerState {
  /** Lifecycle status as last recorded ('paused' is not stored: it is read from the cgroup). */
  status: ContainerStatus
  /** Host pid of the container's PID 1 while running. */
  pid?: number
  /** Start time of that pid (from /proc/<pid>/stat), to tell it from a reused pid. */
  pidStart?: string
  /** The process that last started it: a container not detached dies with it, and is garbage after. */
  owner?: ProcessIdentity
  /** When the program last started, ISO 8601. */
  startedAt?: string
  /** When the program last exited, ISO 8601. */
  finishedAt?: string
  /** Exit code of the last run; 128 + the signal number when a signal killed it. */
  exitCode?: number
  /** The signal that killed the last run, if one did (e.g. "SIGKILL"). */
  signal?: NodeJS.Signals
  /** The kernel's OOM killer killed a process of the container (read from its cgroup when it exited). */
  oomKilled?: boolean
  /** Restarts by its restart policy since it was last started by hand; absent: 0. */
  restartCount?: number
  /** The user stopped, killed or removed it: its restart policy does not bring it back (until it is started again). */
  manuallyStopped?: boolean
}

/** Docker-like `inspect()` result. */
export interface ContainerInspect {
  /** Full id, 64 hex digits. */
  id: string
  /** Name, unique within the runtime. */
  name: string
  /** The image reference given to `run()`/`create()`, with ":latest" added when it names no tag or digest. */
  image: string
  /** "sha256:<hex>" id of the image (Docker's `Image`). */
  imageId: string
  /** Creation time, ISO 8601. */
  created: string
  /** The program: the first word of entrypoint + cmd (Docker's `Path`). */
  path: string
  /** The program's arguments: the rest of entrypoint + cmd (Docker's `Args`). */
  args: string[]
  /** Restarts by its restart policy since it was last started by hand (Docker's `RestartCount`). */
  restartCount: number
  /** Lifecycle state (Docker's `State`). */
  state: {
    /** 'created', 'running', 'paused', 'exited' or 'removing'. */
    status: ContainerStatus
    /** The program runs (also while paused, as in Docker). */
    running: boolean
    /** Host pid of the container's PID 1 while it runs; 0 otherwise. */
    pid: number
    /** Exit code of the last run (128 + the signal number when killed by a signal); 0 before the first exit. */
    exitCode: number
    /** Frozen by `pause()`; `status` is then 'paused', as in Docker. */
    paused: boolean
    /** The kernel's OOM killer killed a process of the container (its cgroup's counter, not a guess from the exit code). */
    oomKilled: boolean
    /** When the program last started, ISO 8601; "0001-01-01T00:00:00Z" if it never did, as Docker shows it. */
    startedAt: string
    /** When the program last exited, ISO 8601; "0001-01-01T00:00:00Z" if it never did. */
    finishedAt: string
    /** Present when a health check is configured. */
    health?: HealthState
  }
  /** What runs and how (Docker's `Config`): command, environment, user, hostname, labels, health check. */
  config: ContainerRecord['config']
  /** The host-side options as given (Docker's `HostConfig`): network mode, capabilities, binds, ports... */
  hostConfig: ContainerRecord['hostConfig']
  /** Volumes, binds and tmpfs, like Docker's `Mounts`. */
  mounts: MountRecord[]
  /** The root filesystem's overlay mount (Docker's `GraphDriver`). */
  graphDriver: {
    /** Always "overlay" (overlayfs). */
    name: 'overlay'
    /** Host paths of the overlay's directories. */
    data: {
      /** The image's layer directories, ':'-separated, top-most first. */
      lowerDir: string
      /** The container's writable layer: what it changed, added or deleted. */
      upperDir: string
      /** overlayfs's work directory. */
      workDir: string
      /** Mount point of the merged view: the container's root while it runs. */
      mergedDir: string
    }
  }
  /** Addresses, gateway, MAC, published ports and networks (bridge modes); empty values otherwise. */
  networkSettings: NetworkSettings
  /** Bytes in the writable layer (with `inspect({ size: true })`). */
  sizeRw?: number
  /** Bytes in the whole view: writable layer plus image layers (with `inspect({ size: true })`). */
  sizeRootFs?: number
  /** Host path of the standard output log (standard error is beside it, in stderr.log). */
  logPath: string
  /** Host path of the container's /etc/hosts (bind-mounted; peers' names are kept up to date in it). */
  hostsPath: string
  /** Host path of the container's /etc/hostname. */
  hostnamePath: string
  /** Host path of the container's /etc/resolv.conf. */
  resolvConfPath: string
}

/** Result of {@link Container.exec}. */
export interface ExecResult extends ExitStatus {
  /** Everything the command wrote to standard output (UTF-8). */
  stdout: string
  /** Everything the command wrote to standard error (UTF-8). */
  stderr: string
}

/** Options of {@link Container.exec}. */
export interface ExecOptions {
  /** Extra environment (`docker exec -e`), as an object or `K=v` strings; added to the container's. */
  env?: Record<string, string> | string[]
  /** Working directory (`-w`); default: the container's. */
  workdir?: string
  /** `uid[:gid]` or a user name from the container's /etc/passwd (`-u`); default: the container's user. */
  user?: string
  /** All capabilities for this process (`--privileged`); default: as the container. The container's seccomp filter still applies. */
  privileged?: boolean
  /** Bytes for the process's standard input. */
  stdin?: string | Buffer
  /** Cancels the command: its process group is killed, and exec rejects with EABORTED once it is gone. */
  signal?: AbortSignal
}

/** Options of {@link Container.logs} (`docker logs`' flags). */
export interface LogsOptions {
  /** Keep the stream open and deliver new output until the container exits (`-f`). */
  follow?: boolean
  /** Include standard output (default true). */
  stdout?: boolean
  /** Include standard error (default true). */
  stderr?: boolean
  /** Only records from this time on: a Date, unix seconds, a duration before now ('10m', '2h') or RFC 3339 (`--since`). */
  since?: LogTime
  /** Only records up to this time, same forms as `since` (`--until`); following stops there. */
  until?: LogTime
  /** Only the last N records (`--tail`); 'all' (the default) for every one. */
  tail?: number | 'all'
  /** Prefix each record with the time it was received, RFC 3339 with nanoseconds and a space (`-t`). */
  timestamps?: boolean
}


export type { ExitStatus }
export type { LogTime }
export type { LogEntry } from './log-file'
