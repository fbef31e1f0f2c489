/**
 * From a container record to the spec the shim runs: the overlay root, the
 * mounts in Docker's order, the namespaces, and the process.
 *
 * @module
 */
import * as path from 'node:path'
import { devicePolicy, parseDeviceCgroupRule, type CgroupSetup, type DevicePolicy } from '../cgroups'
import { capabilitySet } from '../shim/capabilities'
import { bindMount, protectionMounts, systemMounts } from '../shim/defaults'
import { mountFallbacks, type MountOp, type NestedMaps, type RunSpec, type UsernsKind } from '../shim/spec'
import { CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWUTS } from '../sys/libc'
import type { ImageRecord } from '../image/store'
import { KernelUnsupportedError } from '../errors'
import { hostKernelRelease, kernelAtLeast } from '../sys/kernel'
import { processSecurity, type ProcessSecurity } from '../seccomp'
import { processSpec } from './process-spec'
import type { ContainerPaths } from './store'
import type { ContainerRecord } from './types'
import { deviceNodeOps, deviceRulesOf, type HostDevice } from './device-mappings'
import { sysctlOps } from './sysctls'

/** The namespaces every container gets; the network one depends on the mode. */
export const baseCloneFlags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP

/** The capability mask of a container's processes. */
export function containerCapabilities(r: ContainerRecord): bigint {
  return capabilitySet({ capAdd: r.hostConfig.capAdd, capDrop: r.hostConfig.capDrop, privileged: r.hostConfig.privileged })
}

/** Seccomp filter and no_new_privs of every process of the container (its program and its execs). */
export function containerSecurity(r: ContainerRecord): ProcessSecurity {
  return processSecurity({ securityOpt: r.hostConfig.securityOpt, privileged: r.hostConfig.privileged, capabilities: containerCapabilities(r) })
}

/**
 * The device nodes the container may use (its cgroup's device rules): Docker's defaults, its
 * `deviceCgroupRules` and the rules of its `devices` (as found at start), or every device when privileged.
 */
export function containerDevicePolicy(r: ContainerRecord, devices: readonly HostDevice[]): DevicePolicy {
  return devicePolicy({ privileged: r.hostConfig.privileged, rules: [...(r.hostConfig.deviceCgroupRules ?? []).map(parseDeviceCgroupRule), ...deviceRulesOf(devices)] })
}

/** /etc/hostname, /etc/hosts and /etc/resolv.conf from the container's directory. */
function etcMounts(p: ContainerPaths): MountOp[] {
  return [bindMount(p.hostname, '/etc/hostname', false), bindMount(p.hosts, '/etc/hosts', false), bindMount(p.resolvConf, '/etc/resolv.conf', false)]
}

/**
 * How the network namespace is obtained, decided by the caller from the network mode. 'late': one the
 * network layer makes while the shim sets the container up, its path sent after the spec
 * (RunSpec.netnsLate; a bridge or user network, without a user namespace).
 */
export type NetnsChoice = { kind: 'own' } | { kind: 'host' } | { kind: 'fd'; fd: number } | { kind: 'late' }

/** The path the shim opens for a network namespace this process holds as `fd`. */
function netnsFdPath(fd: number): string {
  return `/proc/${process.pid}/fd/${fd}`
}

/** The path of a network namespace the network layer made and this process holds (a 'fd' choice): a late one's message. */
export function heldNetnsPath(choice: NetnsChoice): string {
  if (choice.kind !== 'fd') throw new TypeError(`a late network namespace is one held as an fd, not '${choice.kind}'`)
  return netnsFdPath(choice.fd)
}

/**
 * Whether the container's user namespace does not own the network namespace it ends up in, so that
 * the kernel refuses it a sysfs mount (it needs CAP_SYS_ADMIN over the network namespace's owner):
 * keep-id's nested namespace on a network of the keeper's, and a rootless container on the host's
 * network (the host's user namespace owns that one). The host's /sys is bound read-only instead.
 */
function sysfsRefused(netns: NetnsChoice, userns: { nested?: NestedMaps } | undefined): boolean {
  if (!userns) return false
  return netns.kind === 'host' || (!!userns.nested && netns.kind === 'fd')
}

/**
 * The process of container `r`: its command, env, user (looked up in `layers`, the writable one
 * first), capabilities, rlimits and security. `processEnv`: variables for this start only (StartExtras).
 */
export function containerProcess(r: ContainerRecord, layers: string[], processEnv?: string[]): RunSpec['process'] {
  return {
    ...processSpec({
      args: [...r.config.entrypoint, ...r.config.cmd],
      imageEnv: [],
      env: [...r.config.env, ...(processEnv ?? [])],
      hostname: r.config.hostname,
      cwd: r.config.workdir,
      user: r.config.user,
      groupAdd: r.hostConfig.groupAdd ?? [],
      layers,
      capabilities: containerCapabilities(r),
      rlimits: r.resources?.rlimits,
    }),
    ...containerSecurity(r),
  }
}

/** Builds the run spec. `featureMounts` are volumes, binds and tmpfs from the storage layer. */
export function buildRunSpec(opts: {
  record: ContainerRecord
  image: ImageRecord
  layerDirs: string[]
  paths: ContainerPaths
  netns: NetnsChoice
  featureMounts: MountOp[]
  /** The container's cgroups (absent without cgroups, and for filesystem views of stopped containers). */
  cgroups?: CgroupSetup
  /** Host device nodes to make in the container (its `devices`; none for filesystem views). */
  devices?: readonly HostDevice[]
  /** Rootless: the container's user namespace, see RunSpec.userns, RunSpec.usernsPath and RunSpec.nestedMaps. */
  userns?: { kind: UsernsKind; path?: string; nested?: NestedMaps }
  /** Variables for this start's program only, over the record's (a build's secrets): in the spec sent to the shim, never in the record. */
  processEnv?: string[]
  /** This start is the layer's last mount (see RootfsSpec.volatile): its container is removed once the program ends. */
  lastMount?: boolean
}): RunSpec {
  const { record: r, paths: p } = opts
  const privileged = r.hostConfig.privileged
  const mounts: MountOp[] = [
    ...systemMounts({ privileged, shmSize: r.resources?.shmSize, userns: opts.userns?.kind, bindSys: sysfsRefused(opts.netns, opts.userns) }),
    ...(opts.cgroups?.mounts ?? []),
    ...opts.image.hostBinds.map((b) => bindMount(b.source, b.target, true)),
    ...opts.featureMounts,
    ...etcMounts(p),
    // After the mounts, as runc: a device path may lie under a volume or a tmpfs.
    ...deviceNodeOps(opts.devices ?? []),
    ...sysctlOps(r.hostConfig.sysctls),
    ...protectionMounts(privileged),
  ]
  const layers = [p.upper, ...opts.layerDirs]
  requireOverlayFits(opts.layerDirs, p.upper, p.work)
  return {
    rootfs: { mergedDir: opts.layerDirs.length ? p.overlayMountPoint : p.merged, lowerDirs: opts.layerDirs, upperDir: p.upper, workDir: p.work, readOnly: r.hostConfig.readonlyRootfs, volatile: !!opts.lastMount },
    mounts,
    process: containerProcess(r, layers, opts.processEnv),
    cloneFlags: baseCloneFlags | (opts.netns.kind === 'own' ? CLONE_NEWNET : 0) | (opts.userns?.nested ? CLONE_NEWUSER : 0),
    hostname: r.config.hostname,
    loopbackUp: opts.netns.kind === 'own',
    netnsPath: opts.netns.kind === 'fd' ? netnsFdPath(opts.netns.fd) : undefined,
    netnsLate: opts.netns.kind === 'late',
    stdin: '/dev/null',
    output: { log: { path: p.log, maxSize: r.hostConfig.logConfig?.maxSize ?? 0, maxFiles: r.hostConfig.logConfig?.maxFiles ?? 1 } },
    init: r.hostConfig.init,
    detach: r.hostConfig.detach,
    exitFile: p.exit,
    cgroups: opts.cgroups?.join,
    userns: opts.userns?.kind,
    usernsPath: opts.userns?.path,
    nestedMaps: opts.userns?.nested,
  }
}

/** The mount data a kernel takes: one page. */
const PAGE = 4096

/**
 * Before Linux 6.8 (no fsconfig "lowerdir+") the shim passes the layers in
 * the overlay's option string, which must fit a page: by the short names of
 * layers/l, mounted from that directory (native/linux.c), over 200 layers
 * do. An image deeper than that is EUNSUPPORTED naming 6.8, before anything
 * is made, rather than a failed mount.
 */
function requireOverlayFits(lowerDirs: string[], upper: string, work: string, release = hostKernelRelease): void {
  if (kernelAtLeast(release, '6.8') && !mountFallbacks.force) return
  const names = lowerDirs.map((d) => path.basename(d).length + 1).reduce((a, b) => a + b, 0)
  // The longest fixed part: a root overlay's options (redirect_dir and metacopy off, native/linux.c).
  const length = 'lowerdir=,upperdir=,workdir=,redirect_dir=off,metacopy=off'.length + names + upper.length + work.length
  if (length >= PAGE) throw new KernelUnsupportedError(`an image of ${lowerDirs.length} layers (its overlay options take ${length} bytes, and a mount takes a page; fsconfig's "lowerdir+" has no such bound)`, '6.8', release)
}
