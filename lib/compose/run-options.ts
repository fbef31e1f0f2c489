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

/** How a service's containers are named and published in one `up`. */
export interface ServiceRunChoices {
  /** Every published port on a free host port. */
  ephemeralPorts: boolean
  /** `container_name` prefixed with the project, the written one kept as an alias. */
  isolateNames: boolean
}

/** `network_mode` as run()'s `network`; `service:x` is x's first container. */
function networkOf(svc: ComposeService, model: ComposeModel, choices: ServiceRunChoices): string {
  const mode = svc.networkMode
  if (mode === undefined) {
    const [first] = Object.keys(svc.networks)
    return first === undefined ? 'none' : model.networks[first].name
  }
  if (!mode.startsWith('service:')) return mode
  const other = model.services[mode.slice('service:'.length)]
  return `container:${containerName(model.name, other.name, 1, other.containerName, choices.isolateNames)}`
}

/** The names a container answers to on one of its networks: the service, its aliases there, and with isolateNames the written container_name. */
export function networkAliases(svc: ComposeService, key: string, choices: ServiceRunChoices): string[] {
  const written = choices.isolateNames && svc.containerName !== undefined ? [svc.containerName] : []
  return [svc.name, ...svc.networks[key].aliases, ...written]
}

/** The run() options of replica `index` (1-based) of a service: its first network; the others are connected before it starts. */
export function serviceRunOptions(svc: ComposeService, model: ComposeModel, choices: ServiceRunChoices, index = 1): RunOptions & { name: string } {
  const [firstNetwork] = Object.entries(svc.networks)
  const r = svc.resources
  return {
    name: containerName(model.name, svc.name, index, svc.containerName, choices.isolateNames),
    network: networkOf(svc, model, choices),
    aliases: firstNetwork ? networkAliases(svc, firstNetwork[0], choices) : undefined,
    ip: firstNetwork?.[1].ipv4Address,
    env: svc.environment,
    entrypoint: svc.entrypoint,
    ports: svc.ports.map((p) => portSpec(p, choices.ephemeralPorts)),
    expose: svc.expose,
    volumes: svc.mounts.filter((m) => m.type === 'bind').map(bindVolume),
    mounts: svc.mounts.filter((m) => m.type !== 'bind').map((m) => mountOption(m, model)),
    hostname: svc.hostname,
    user: svc.user,
    workdir: svc.workingDir,
    healthcheck: svc.healthcheck,
    labels: { ...svc.labels, ...containerLabels(model.name, svc.name, model.workdir, model.files, index) },
    capAdd: svc.capAdd,
    capDrop: svc.capDrop,
    securityOpt: svc.securityOpt,
    sysctls: svc.sysctls,
    privileged: svc.privileged,
    readOnly: svc.readOnly,
    init: svc.init,
    extraHosts: svc.extraHosts,
    memory: r.memory,
    cpus: r.cpus,
    pidsLimit: r.pidsLimit,
    shmSize: r.shmSize,
    ulimits: r.ulimits,
    restart: svc.restart,
    stopSignal: svc.stopSignal,
    stopTimeout: svc.stopGracePeriod === undefined ? undefined : svc.stopGracePeriod / 1000,
  }
}
