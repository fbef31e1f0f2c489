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

/** Host config fields a claim sets, or Node applies around the program: not part of the shape. */
const perRun = new Set(['restartPolicy', 'capAdd', 'capDrop', 'groupAdd', 'securityOpt', 'extraHosts', 'keepOnOwnerDeath'])

/**
 * The shape of `record`'s run, or undefined for a run no pre-started container may serve: a detached
 * one (it outlives this process), and one with its own network endpoint, keep-id user namespace,
 * mounts (volumes, binds, tmpfs: made per container) or devices (looked up at start). Every other
 * host config field is part of the shape, a field added later too. (Rootless or not is the runtime's,
 * as its pool is.)
 */
export function runShape(record: ContainerRecord): string | undefined {
  const h = record.hostConfig
  const tmpfs = Array.isArray(h.tmpfs) ? h.tmpfs.length : Object.keys(h.tmpfs).length
  if (h.networkMode !== 'none' || h.detach || h.usernsMode || h.binds.length || h.mountOptions.length || tmpfs || h.devices?.length || record.mounts?.length) return undefined
  const shaped = Object.entries(h).filter(([k]) => !perRun.has(k))
  return JSON.stringify([record.imageId, shaped, record.resources ?? null])
}
