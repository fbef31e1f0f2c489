/**
 * A normalised service as `run()` options: its container name, the first of
 * its networks with the service name and aliases, ports (ephemeral on
 * request), mounts with project-scoped volume names, and compose's labels.
 * Pure.
 *
 * @module
 */
import type { MountOption } from '../storage/mount-types'
import type { RunOptions } from '../container/types'
import { containerLabels, containerName } from './naming'
import type { ComposeModel, ComposeMount, ComposePort, ComposeService } from './types'

/** `-p` text of a port; `ephemeral` leaves the host port for the kernel to pick. */
export function portSpec(p: ComposePort, ephemeral: boolean): string {
  const host = ephemeral || p.published === undefined ? '' : String(p.published)
  const prefix = p.hostIp ? `${p.hostIp}:${host}:` : host ? `${host}:` : ''
  return `${prefix}${p.target}/${p.protocol}`
}

function mountOption(m: ComposeMount, model: ComposeModel): MountOption {
  if (m.type === 'tmpfs') return { type: 'tmpfs', target: m.target, readOnly: m.readOnly, tmpfsSize: m.tmpfsSize }
  if (m.type === 'volume') return { type: 'volume', source: m.source === undefined ? undefined : model.volumes[m.source].name, target: m.target, readOnly: m.readOnly }
  return { type: 'bind', source: m.source, target: m.target, readOnly: m.readOnly }
}

/** Binds are given as `-v` text so that a missing host directory is made, as compose's short syntax does. */
function bindVolume(m: ComposeMount): string {
  return `${m.source}:${m.target}${m.readOnly ? ':ro' : ''}`
}

/** The run() options of a service's container (its first network; the others are connected after start). */
export function serviceRunOptions(svc: ComposeService, model: ComposeModel, opts: { ephemeralPorts: boolean }): RunOptions & { name: string } {
  const [firstNetwork] = Object.entries(svc.networks)
  return {
    name: containerName(model.name, svc.name, 1, svc.containerName),
    network: firstNetwork ? model.networks[firstNetwork[0]].name : 'none',
    aliases: firstNetwork ? [svc.name, ...firstNetwork[1].aliases] : undefined,
    ip: firstNetwork?.[1].ipv4Address,
    env: svc.environment,
    entrypoint: svc.entrypoint,
    ports: svc.ports.map((p) => portSpec(p, opts.ephemeralPorts)),
    volumes: svc.mounts.filter((m) => m.type === 'bind').map(bindVolume),
    mounts: svc.mounts.filter((m) => m.type !== 'bind').map((m) => mountOption(m, model)),
    hostname: svc.hostname,
    user: svc.user,
    workdir: svc.workingDir,
    healthcheck: svc.healthcheck,
    labels: { ...svc.labels, ...containerLabels(model.name, svc.name, model.workdir, model.files) },
    capAdd: svc.capAdd,
    capDrop: svc.capDrop,
    privileged: svc.privileged,
    readOnly: svc.readOnly,
    init: svc.init,
    extraHosts: svc.extraHosts,
  }
}
