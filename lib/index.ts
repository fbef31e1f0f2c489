/**
 * minicontainer: Linux containers for Node.js, in-process.
 *
 * ```ts
 * import { run, Image } from 'minicontainer'
 * await Image.fromHost({ ref: 'host' })
 * await using c = await run('host', ['sh', '-c', 'echo hi'])
 * await c.wait()
 * ```
 *
 * This module is the whole public surface: classes, functions, option and
 * result types, and every error class. Anything not exported here is internal.
 *
 * @module minicontainer
 */
export { Runtime, type RuntimeOptions, type CloseOptions } from './runtime'
export type { RootlessOption } from './rootless/mode'
export type { IdOverflow } from './rootless/identity'
export { KeeperLostError, RootlessUnsupportedError } from './rootless/errors'
export type { PreflightReport, PreflightCheck, UserNamespaceCheck, SubidCheck } from './rootless/preflight'
export type { UsernsBlockCause } from './rootless/userns-cause'
export type { ProbeStep } from './rootless/userns-probe'
export type { SubidRange } from './rootless/subids'
export { Container } from './container/container'
export type { ContainerContext, RuntimeOption } from './container/context'
export type * from './container/types'
export type { RestartPolicy, RestartPolicyOption } from './container/restart-policy'
export type { DeviceMapping, DeviceOption, DeviceRecord } from './container/device-mappings'
export type { CommitOptions } from './container/commit'
export type { ContainerPruneOptions } from './container/prune'
export type { PruneFilters } from './util/prune-filter'
export { Image, type ImageContext, type ImageRuntimeOption, type ImportOptions, type LoadOptions, type SaveOptions, type PruneOptions, type PruneResult, type ImagePullOptions, type BuildOptions, type BuildSecretSource, type BuildSecretFile, type BuildSecretEnv, type BuildSecretValue, type BuildStep, type BuildProgress, type BuildCachePruneOptions, type BuildCachePruneResult } from './image/image'
export type { LoadProgress } from './image/archive/files'
export type { ImageInspect, ImageHistoryEntry } from './image/inspect'
export { BuildUnsupportedError, UnsupportedDockerfileFeatureError } from './builder/errors'
export { Reference } from './image/reference'
export { DockerImageMissingError } from './image/docker-engine'
export type { PullOptions, PullProgress, PullStatus } from './image/registry/pull'
export type { PushOptions, PushProgress, PushStatus, PushResult } from './image/registry/push'
export type { PullPolicy } from './image/registry/policy'
export type { RegistryAuth } from './image/registry/credentials'
export type { RegistryConnectOptions } from './image/registry/client'
export type { ImageConfig, ImageRecord, HostBind, Healthcheck, HistoryEntry, ManifestRef } from './image/store'
export { Volume, type VolumeContext, type VolumeStoreOption } from './storage/volume'
export type { VolumeInfo, VolumeMeta, VolumeCreateOptions } from './storage/volumes'
export type { MountOption, MountRecord, MountRunOptions } from './storage/mount-types'
export { Network, type ContainerLike, type NetworkContext, type NetworkMembers, type NetworkRuntimeOption } from './network/network'
export type { NetworkSettings, EndpointSettings, NetworkInfo, NetworkRunOptions, HostBinding, CreateNetworkOptions, AttachOptions } from './network/types'
export type { ResourceOptions, Resources, Rlimit, Ulimit, Ulimits, ContainerStats, ProcessInfo } from './cgroups'
export type { ResourceUpdate, StatsStreamOptions } from './container/resources'
export type { CopyOptions, PathStat, PutArchiveOptions } from './files'
export { defaultCapabilities } from './shim/capabilities'
export * from './errors'
export { NetworkNotFoundError, PortInUseError, PortPrivilegedError, AddressInUseError, NetworkInUseError, NoFreeSubnetError, NftablesError, LegacyFirewallError } from './network/errors'
export { VolumeNotFoundError, VolumeInUseError, MountSourceNotFoundError } from './storage/volume-errors'
export type { FilesErrorReason } from './files/errors'
export { RegistryAuthError, RegistryError, UnsupportedManifestError, PlatformNotFoundError, ManifestNotFoundError } from './image/registry/errors'
export { FilesError, PathNotFoundError, NotADirectoryError, DirectoryOntoFileError, DirNonDirError, ReadOnlyError, UnsafeEntryError, MountPointError } from './files/errors'

export type { HarnessRunOptions, BuildSource } from './container/run'
export { Wait } from './harness/wait'
export type { WaitStrategy, WaitContext } from './harness/strategy'
export type { WaitTarget, LogLine, LogStreamName, HealthState, HealthResult, CommandResult } from './harness/target'
export type { WaitForOptions } from './harness/wait-until-ready'
export type { LogMessageOptions } from './harness/log-message'
export type { HttpWaitOptions } from './harness/http'
export type { ExitWaitOptions } from './harness/exit'
export type { FileSpec } from './harness/files'
export type { HealthConfig } from './harness/health-config'
export { Compose } from './compose/compose'
export { ComposeEnvironment } from './compose/environment'
export { UnsupportedComposeKeyError } from './compose/errors'
export type { ComposeSource, ComposeModel, ComposeService, ComposeNetwork, ComposeVolume, ComposePort, ComposeMount, ComposeServiceNetwork, ComposeDependency, DependencyCondition, ComposeConfigOptions, ComposeUpOptions, ComposeDownOptions, ComposeBuild, ComposeResources } from './compose/types'

// The error boundary (lib/util/public-boundary.ts), applied here once to the whole public surface: every
// method, getter and static of the exported classes and of Wait, in place, and every exported function,
// whose guarded copy is what this module exports. A new method is covered as it is written;
// test/errors-boundary.test.ts walks every export to prove it.
import { guardClass, guardFunction, guardObject } from './util/public-boundary'
import { Runtime } from './runtime'
import { Container } from './container/container'
import { Image } from './image/image'
import { Reference, parseReference as unguardedParseReference } from './image/reference'
import { Volume } from './storage/volume'
import { Network } from './network/network'
import { Wait } from './harness/wait'
import { Compose } from './compose/compose'
import { ComposeEnvironment } from './compose/environment'
import { run as unguardedRun } from './container/run'
import { asMiniContainerError as unguardedAsMiniContainerError, errnoOf as unguardedErrnoOf, throwIfAborted as unguardedThrowIfAborted } from './errors'

for (const cls of [Runtime, Container, Image, Reference, Volume, Network, Compose, ComposeEnvironment]) guardClass(cls)
guardObject(Wait)

/** @function */
export const run = guardFunction(unguardedRun)
/** @function */
export const parseReference = guardFunction(unguardedParseReference)
/** @internal */
export const throwIfAborted = guardFunction(unguardedThrowIfAborted)
/** @internal */
export const asMiniContainerError = guardFunction(unguardedAsMiniContainerError)
/** @internal */
export const errnoOf = guardFunction(unguardedErrnoOf)
