/**
 * A run's shape: everything a container is set up with before its process,
 * which two runs must share for one to take a container pre-started from the
 * other's (prestarts.ts). What is left out is what a claim sets: the process
 * (command, env, user, groups, workdir, capabilities, seccomp and
 * no-new-privileges, the hostname), the name and labels, and what Node does
 * around the program (restart policy, health check, stop signal).
 *
 * @module
 */
import type { ContainerRecord } from './types'
import { joinsNetworks } from '../network/network-mode'
import { mountFallbacks } from '../shim/spec'

/**
 * Host config fields a claim sets, or Node applies around the program, or the network applies as it
 * joins the run's container to its network at the claim (ports, aliases, links, address): not part of the shape.
 */
const perRun = new Set([
  'restartPolicy', 'capAdd', 'capDrop', 'groupAdd', 'securityOpt', 'extraHosts', 'keepOnOwnerDeath',
  'portBindings', 'publishAllPorts', 'links', 'networkingConfig', 'exposeHostPorts',
])

/**
 * The shape of `record`'s run, or undefined for a run no pre-started container may serve: a detached
 * one (it outlives this process), one on the host's network or another container's, one with a
 * keep-id user namespace, mounts (volumes, binds, tmpfs: made per container) or devices (looked up at
 * start), and a rootless runtime's on a bridge or user network (its user namespace must own the
 * network namespace, made before the clone). A root runtime's bridge or user network is joined at the
 * claim, per run. Every other host config field is part of the shape, a field added later too.
 */
export function runShape(record: ContainerRecord, rootless: boolean): string | undefined {
  const h = record.hostConfig
  const tmpfs = Array.isArray(h.tmpfs) ? h.tmpfs.length : Object.keys(h.tmpfs).length
  const network = h.networkMode === 'none' || (!rootless && joinsNetworks(h.networkMode))
  if (!network || h.detach || h.usernsMode || h.binds.length || h.mountOptions.length || tmpfs || h.devices?.length || record.mounts?.length) return undefined
  const shaped = Object.entries(h).filter(([k]) => !perRun.has(k))
  // The test-only mount fallbacks are set up with the container, not at its claim.
  return JSON.stringify([record.imageId, shaped, record.resources ?? null, mountFallbacks.force])
}
