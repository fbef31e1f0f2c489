/**
 * The run spec of a container of a runtime: its record and image, with the
 * runtime's layers (the init layer, rootless or not), paths and user
 * namespace, through buildRunSpec. A start's, a file view's and a
 * pre-started container's alike.
 *
 * @module
 */
import * as fs from 'node:fs'
import type { CgroupSetup } from '../cgroups'
import type { ImageRecord } from '../image/store'
import { encodeClaim, type RunSpec } from '../shim/spec'
import { toMountOps } from '../storage/mount-options'
import { withInitLayer } from '../storage/init-layer'
import type { ContainerContext } from './context'
import type { HostDevice } from './device-mappings'
import { buildRunSpec, containerProcess, heldNetnsPath, type NetnsChoice } from './run-spec'
import type { ContainerRecord } from './types'

/** What a start adds to the spec beyond the record (see StartExtras). */
export interface SpecExtras {
  processEnv?: string[]
  lastMount?: boolean
}

/** The spec of `record`'s container (its directory `record.id`'s) on network `netns`, with `cgroups` and `devices` when it runs. */
export function containerRunSpec(rt: ContainerContext, record: ContainerRecord, image: ImageRecord, netns: NetnsChoice, cgroups?: CgroupSetup, devices?: HostDevice[], start: SpecExtras = {}): RunSpec {
  const userns = rt.userIds?.forStart(record.hostConfig.usernsMode === 'keep-id')
  const layerDirs = lowerLayers(rt, image)
  const paths = rt.containers.paths(record.id)
  // Without layers, the root is the container's own directory (see ContainerPaths.merged), made at its first start.
  if (!layerDirs.length) fs.mkdirSync(paths.merged, { recursive: true })
  return buildRunSpec({ record, image, layerDirs, paths, netns, featureMounts: toMountOps(record.mounts ?? []), cgroups, devices, userns, ...start })
}

/**
 * The claim of a pre-started container by `record`'s run (prestarts.ts): its process and hostname,
 * and the network namespace it joins (`netns`, a bridge or user network's, joined for the run).
 */
export function containerClaim(rt: ContainerContext, record: ContainerRecord, image: ImageRecord, netns?: NetnsChoice): Buffer {
  const layers = [rt.containers.paths(record.id).upper, ...lowerLayers(rt, image)]
  const process = containerProcess(record, layers)
  // As a start's spec is checked: without a subordinate range, no user but root (EUNSUPPORTED, not a failed setuid).
  if (rt.userIds) rt.userIds.checkUser(rt.userIds.kind, process, record.config.user)
  return encodeClaim(process, record.config.hostname, netns && heldNetnsPath(netns))
}

/** The overlay's lower dirs of a container of `image`, top first. */
function lowerLayers(rt: ContainerContext, image: ImageRecord): string[] {
  const imageLayers = rt.images.mountLayerDirs(image)
  // Rootless, the image's /etc belongs to a subordinate id: the shim makes the mount points in the writable layer.
  return rt.rootless ? imageLayers : withInitLayer(rt.root, imageLayers)
}
