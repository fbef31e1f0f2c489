/**
 * The public types of compose environments: what `Compose.config()`
 * returns (the normalised model) and the options of `Compose.up()`.
 *
 * @module
 */
import type { WaitStrategy } from '../harness/strategy'
import type { LogStreamName } from '../harness/target'
import type { HealthConfig } from '../harness/health-config'
import type { Runtime } from '../runtime'
import type { Ulimits } from '../cgroups'
import type { RestartPolicyOption } from '../container/restart-policy'

/** Where a compose project comes from: a file, several files merged in order, or YAML text with the directory relative paths start from. */
export type ComposeSource = string | string[] | {
  /** The compose file's text. */
  yaml: string
  /** The project directory: relative bind mounts and `.env` are found there. */
  workdir: string
}

/** A `depends_on` condition (Compose Specification). */
export type DependencyCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully'

/** One `depends_on` entry, in long form. */
export interface ComposeDependency {
  /** What the dependency must reach before this service starts. */
  condition: DependencyCondition
  /** false: a dependency that is not part of the project is skipped instead of being an error. */
  required: boolean
}

/** A published port, in long form. */
export interface ComposePort {
  /** The container port. */
  target: number
  /** The host port, or undefined for an ephemeral one. */
  published?: number
  /** The host address to listen on; undefined for every address. */
  hostIp?: string
  /** 'tcp' or 'udp'. */
  protocol: 'tcp' | 'udp'
}

/** A mount of a service, in long form. */
export interface ComposeMount {
  /** bind: a host path (absolute, relative ones resolved against the project directory); volume: a project volume; tmpfs: memory. */
  type: 'bind' | 'volume' | 'tmpfs'
  /** bind: the absolute host path; volume: the volume's key in the file (undefined: anonymous). */
  source?: string
  /** The absolute path inside the container. */
  target: string
  /** Mounted read-only. */
  readOnly: boolean
  /** tmpfs only: its size in bytes. */
  tmpfsSize?: number
}

/** How a service joins one network. */
export interface ComposeServiceNetwork {
  /** Extra names it answers to on that network (beside the service and container names). */
  aliases: string[]
  /** A static IPv4 address. */
  ipv4Address?: string
}

/** A service's `build`: its image is built with `Image.build` (the shared build cache) before it starts. */
export interface ComposeBuild {
  /** The build context, absolute (a relative one is resolved against the project directory). */
  context: string
  /** The Dockerfile: a path in the context (default "Dockerfile") or absolute. */
  dockerfile?: string
  /** Values of the Dockerfile's ARGs. */
  args: Record<string, string>
  /** The stage to build. */
  target?: string
}

/** The resource limits of a service (`mem_limit`, `cpus`, `pids_limit`, `shm_size`, `deploy.resources.limits`, `ulimits`). */
export interface ComposeResources {
  /** Memory limit in bytes. */
  memory?: number
  /** CPUs, e.g. 0.5. */
  cpus?: number
  /** Most processes and threads at once. */
  pidsLimit?: number
  /** Size of /dev/shm in bytes. */
  shmSize?: number
  /** `ulimits`: per-process limits set before the program runs, by name ("nofile"). */
  ulimits?: Ulimits
}

/** A service, normalised: every short form expanded, durations in milliseconds, variables interpolated. */
export interface ComposeService {
  /** The service's key in the file. */
  name: string
  /** The image reference: present locally, pulled, or built from `build` (then `<project>-<service>` when no image is written). */
  image: string
  /** How its image is built, when it is. */
  build?: ComposeBuild
  /** How many containers run it (`scale`, `deploy.replicas`); default 1. */
  replicas: number
  /** `network_mode`: "none", "host", "service:<name>" or "container:<name>"; undefined for the project's networks. */
  networkMode?: string
  /** Ports exposed to the networks it joins, without publishing them ("8080/tcp"). */
  expose: string[]
  /** Memory, CPU, pids and shm limits. */
  resources: ComposeResources
  /** `restart`: run()'s restart policy, carried out by this process while it lives. */
  restart?: RestartPolicyOption
  /** `stop_signal`: sent first by stop (default the image's, else SIGTERM). */
  stopSignal?: string
  /** Replaces the image's Cmd; a string in the file is split as a shell would (not run with sh -c). */
  command?: string[]
  /** Replaces the image's Entrypoint. */
  entrypoint?: string[]
  /** The environment set in the file (list or mapping form); a name without a value takes it from the variables, and is left out when unset. */
  environment: Record<string, string>
  /** Published ports. */
  ports: ComposePort[]
  /** Bind mounts, volumes and tmpfs (`volumes` and `tmpfs` keys). */
  mounts: ComposeMount[]
  /** The networks it joins, by their key in the file (`default` when none is written). */
  networks: Record<string, ComposeServiceNetwork>
  /** The services it depends on, by name. */
  dependsOn: Record<string, ComposeDependency>
  /** Its health check (durations in ms); `{ test: ['NONE'] }` when disabled. */
  healthcheck?: HealthConfig
  /** Labels written in the file (compose's own are added when containers are made). */
  labels: Record<string, string>
  /** `container_name`: the name used instead of `<project>-<service>-1`. */
  containerName?: string
  /** The profiles that enable it; none: always enabled. */
  profiles: string[]
  /** `hostname`. */
  hostname?: string
  /** `user`. */
  user?: string
  /** `working_dir`. */
  workingDir?: string
  /** `cap_add`. */
  capAdd: string[]
  /** `cap_drop`. */
  capDrop: string[]
  /** `sysctls`: namespaced kernel parameters by name (run()'s `sysctls`). */
  sysctls?: Record<string, string>
  /** `security_opt`, as run()'s `securityOpt` (a relative seccomp profile path made absolute against the project directory). */
  securityOpt: string[]
  /** `privileged`. */
  privileged: boolean
  /** `read_only`. */
  readOnly: boolean
  /** `init`. */
  init: boolean
  /** `extra_hosts`, as "name:IPv4". */
  extraHosts: string[]
  /** `stop_grace_period`, in milliseconds. */
  stopGracePeriod?: number
}

/** A project network. */
export interface ComposeNetwork {
  /** The network's name on the runtime: `<project>_<key>`, its `name`, or the external network's. */
  name: string
  /** Made elsewhere: it must exist, and `down` leaves it. */
  external: boolean
  /** No traffic in or out, only between its members. */
  internal: boolean
  /** Labels written in the file. */
  labels: Record<string, string>
}

/** A project volume. */
export interface ComposeVolume {
  /** The volume's name on the runtime: `<project>_<key>`, its `name`, or the external volume's. */
  name: string
  /** Made elsewhere: it must exist, and `down` leaves it. */
  external: boolean
  /** Labels written in the file. */
  labels: Record<string, string>
}

/** What `Compose.config()` returns: the project after loading, merging, interpolation, validation and normalisation. */
export interface ComposeModel {
  /** The project name. */
  name: string
  /** The project directory. */
  workdir: string
  /** The compose files read, in merge order ("(yaml)" for inline text). */
  files: string[]
  /** The services enabled by the selected profiles, by name. */
  services: Record<string, ComposeService>
  /** The networks used, by their key in the file (`default` included when a service uses it). */
  networks: Record<string, ComposeNetwork>
  /** The volumes declared, by their key in the file. */
  volumes: Record<string, ComposeVolume>
  /** Things compose would warn about (variables used but not set, the obsolete `version` key). */
  warnings: string[]
}

/** Options of `Compose.config()`; `Compose.up()` takes them too. */
export interface ComposeConfigOptions {
  /** The project name (`-p`); must match ^[a-z0-9][a-z0-9_-]*$. Default: the file's `name`, else a fresh random one per call. */
  projectName?: string
  /** Variables for interpolation, over the process environment and the env file. */
  env?: Record<string, string>
  /** The env file read for interpolation, relative to the project directory; default `.env` there (optional). */
  envFile?: string
  /** Profiles to enable: services with a `profiles` key start only when one of theirs is listed. */
  profiles?: string[]
  /** Start only these services and the services they depend on (`docker compose up svc...`); unknown names are EINVALID. */
  services?: string[]
}

/** Options of `Compose.up()`. */
export interface ComposeUpOptions extends ComposeConfigOptions {
  /** Per service name, what makes it ready (default: healthy when it has a health check, else running; exited 0 for a one-shot others wait for). Unknown names are EINVALID. */
  waitFor?: Record<string, WaitStrategy>
  /** `container_name` becomes `<project>-<name>`, so parallel projects never clash; the written name still resolves as a network alias. */
  isolateNames?: boolean
  /** With a `projectName`: a project already running from the same normalised model and image ids is returned instead of a new one (workers of one jest run share it); one from another model is replaced. */
  reuse?: boolean
  /** 'ephemeral': every published port gets a free host port, so parallel projects never clash; read it with `env.port()`. */
  ports?: 'ephemeral' | 'as-written'
  /** Milliseconds each service may take to get ready (default 60 000). */
  startupTimeout?: number
  /** Keep what started when `up` fails, for a post-mortem; by default everything is removed. */
  keepOnFailure?: boolean
  /** Called with each line of every service's output. */
  onLog?: (service: string, line: string, stream: LogStreamName) => void
  /** Cancels `up`; what it made is removed again. */
  signal?: AbortSignal
  /** The runtime to use; omitted, the default one. */
  runtime?: Runtime
}

/** Options of `env.down()`. */
export interface ComposeDownOptions {
  /** Also remove the project's named volumes (`down -v`). */
  volumes?: boolean
}
