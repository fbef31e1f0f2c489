/**
 * From `run()` options to the container record stored at create time:
 * validation, the image's defaults, and Docker's merge rules.
 *
 * @module
 */
import * as os from 'node:os'
import * as path from 'node:path'
import { parseDeviceCgroupRule, resolveResources } from '../cgroups'
import { InvalidArgumentError } from '../errors'
import type { ContainerContext } from './context'
import { normaliseRef, type Healthcheck, type ImageRecord } from '../image/store'
import { recordSecurityOpt } from '../seccomp'
import { generateName, newId } from '../util/ids'
import { checkUserOption, envList, mergeEnv } from './process-spec'
import { parseExposeSpec } from '../network/ports'
import { checkedExposeHostPorts, checkedExtraHosts, checkPortOptions, networkModeOf } from './network-options'
import type { ContainerRecord, RunOptions } from './types'
import { checkHealthConfig, mergeHealthcheck } from '../harness/health-config'
import { checkFileSpecs } from '../harness/files'
import { logConfigOf } from './log-config'
import { deviceRecordsOf } from './device-mappings'
import { checkedSysctls } from './sysctls'
import { parseRestartPolicy } from './restart-policy'
import { thisProcess } from './liveness'
import { checkRootlessUlimits } from '../rootless/ulimits'

/** Docker's default: every container on the default bridge. */
const defaultNetwork = 'bridge'

/** `{ healthcheck }` for the record when a check applies (an option's `['NONE']` is kept: it disables the image's). */
function healthcheckOf(option: RunOptions['healthcheck'], image: Healthcheck | undefined): { healthcheck?: Healthcheck } {
  const h = mergeHealthcheck(option, image)
  return h ? { healthcheck: h } : {}
}

/**
 * Validates options beyond their names and types (run-options.ts's checkRunOptions, the caller's: before a pull) and builds
 * the record of a new container, with its image's: `found` when the caller already read it, else looked up here.
 */
export function buildRecord(rt: ContainerContext, imageRef: string, cmd: string[] | undefined, opts: RunOptions, found?: ImageRecord): { record: ContainerRecord; image: ImageRecord } {
  if (cmd !== undefined && (!Array.isArray(cmd) || cmd.some((a) => typeof a !== 'string')))
    throw new InvalidArgumentError('the command must be an array of strings, e.g. ["sh", "-c", "echo hi"]')
  const networkMode = networkModeOf(opts.network) ?? defaultNetwork
  checkPortOptions(networkMode, opts)
  checkHealthConfig(opts.healthcheck)
  checkFileSpecs(opts.files)
  checkUserOption(opts.user, opts.groupAdd)
  // Resolved here, after the checks, when the pull policy did not look: an invalid option still wins over ENOIMAGE.
  const image = found ?? rt.images.resolve(imageRef)
  const id = newId()
  // Docker's rules: a command replaces Cmd and keeps Entrypoint; an entrypoint option replaces Entrypoint and clears Cmd.
  const command = cmd && cmd.length ? cmd : opts.entrypoint !== undefined ? [] : (image.config.cmd ?? [])
  const entrypoint = opts.entrypoint ?? image.config.entrypoint ?? []
  if (entrypoint.length + command.length === 0)
    throw new InvalidArgumentError(`no command specified: image ${imageRef} has no Cmd or Entrypoint; give a command, e.g. run(image, ["sh"])`)
  const stopSignal = opts.stopSignal !== undefined ? stopSignalOf(opts.stopSignal, 'the stopSignal option') : stopSignalOf(image.config.stopSignal, "the image's StopSignal")
  const resources = resolveResources(opts)
  rt.cgroups.check(resources)
  if (rt.rootless) checkRootlessUlimits(resources.rlimits)
  const record: ContainerRecord = {
    id,
    name: opts.name ?? generateName(),
    image: imageRef.includes(':') || imageRef.startsWith('sha256') ? imageRef : normaliseRef(imageRef),
    imageId: image.id,
    created: new Date().toISOString(),
    owner: thisProcess(),
    resources,
    config: {
      cmd: command,
      entrypoint,
      env: mergeEnv(image.config.env ?? [], envList(opts.env)),
      workdir: opts.workdir ?? image.config.workdir ?? '/',
      // keep-id runs as you, as podman's does, unless a user is asked for.
      user: opts.user ?? (opts.userns === 'keep-id' ? `${process.geteuid?.()}:${process.getegid?.()}` : (image.config.user ?? '')),
      hostname: opts.hostname ?? id.slice(0, 12),
      labels: { ...(image.config.labels ?? {}), ...(opts.labels ?? {}) },
      ...(stopSignal ? { stopSignal } : {}),
      ...(opts.stopTimeout !== undefined ? { stopTimeout: opts.stopTimeout } : {}),
      exposedPorts: exposedPortsOf(image.config.exposedPorts ?? [], opts.expose ?? []),
      ...healthcheckOf(opts.healthcheck, image.config.healthcheck),
    },
    hostConfig: {
      networkMode,
      init: !!opts.init,
      autoRemove: !!opts.rm,
      ...(opts.restart !== undefined ? { restartPolicy: parseRestartPolicy(opts.restart, !!opts.rm) } : {}),
      detach: !!opts.detach,
      keepOnOwnerDeath: !!opts.keepOnOwnerDeath,
      privileged: !!opts.privileged,
      ...(opts.userns ? { usernsMode: opts.userns } : {}),
      deviceCgroupRules: deviceCgroupRulesOf(opts.deviceCgroupRules),
      devices: deviceRecordsOf(opts.devices),
      readonlyRootfs: !!opts.readOnly,
      capAdd: opts.capAdd ?? [],
      capDrop: opts.capDrop ?? [],
      groupAdd: opts.groupAdd ?? [],
      binds: [...(opts.volumes ?? []), ...imageVolumes(image.config.volumes ?? [], opts)],
      mountOptions: opts.mounts ?? [],
      tmpfs: opts.tmpfs ?? {},
      portBindings: opts.ports ?? [],
      publishAllPorts: !!opts.publishAll,
      links: opts.links ?? [],
      extraHosts: checkedExtraHosts(opts.extraHosts, networkMode),
      ...(opts.exposeHostPorts?.length ? { exposeHostPorts: checkedExposeHostPorts(opts.exposeHostPorts, networkMode) } : {}),
      networkingConfig: { ...(opts.ip !== undefined ? { ip: opts.ip } : {}), aliases: opts.aliases ?? [] },
      securityOpt: recordSecurityOpt(opts.securityOpt),
      ...(opts.sysctls ? { sysctls: checkedSysctls(opts.sysctls, networkMode) } : {}),
      logConfig: logConfigOf(opts),
    },
  }
  return { record, image }
}

/** `--device-cgroup-rule` strings, each checked now (EINVALID) so that a start cannot fail on one. */
function deviceCgroupRulesOf(rules: string[] | undefined): string[] {
  for (const r of rules ?? []) parseDeviceCgroupRule(r)
  return rules ?? []
}

/** The image's VOLUME paths as anonymous volumes, except where the run options already mount something. */
function imageVolumes(paths: string[], opts: RunOptions): string[] {
  const targets = new Set([
    ...(opts.volumes ?? []).map((spec) => {
      const parts = spec.split(':')
      return parts.length === 1 ? parts[0] : parts[1]
    }),
    ...(opts.mounts ?? []).map((m) => m.target),
    ...Object.keys(opts.tmpfs ?? {}),
  ].map((t) => path.posix.normalize(t)))
  return paths.filter((p) => !targets.has(path.posix.normalize(p)))
}

/** The image's exposed ports and `--expose`'s ("8080", "53/udp", "8000-8002"), as "port/proto" without repeats. */
function exposedPortsOf(image: string[], expose: string[]): string[] {
  const added = expose.flatMap((spec) => {
    try {
      return parseExposeSpec(spec)
    } catch {
      throw new InvalidArgumentError(`invalid expose entry "${spec}": expected a port (1-65535) or range with an optional protocol (tcp or udp), e.g. "8080", "53/udp", "8000-8002"`)
    }
  })
  return [...new Set([...image, ...added])]
}

/** "SIGQUIT", "QUIT" or "3" as a signal name; an unknown signal is refused at create. */
function stopSignalOf(signal: string | undefined, what: string): NodeJS.Signals | undefined {
  if (!signal) return undefined
  const byNumber = Object.entries(os.constants.signals).find(([, n]) => String(n) === signal)?.[0]
  const name = byNumber ?? (signal.toUpperCase().startsWith('SIG') ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`)
  if (!(name in os.constants.signals)) throw new InvalidArgumentError(`${what} "${signal}" is not a signal name or number, e.g. SIGQUIT`)
  return name as NodeJS.Signals
}

/** `record` under another id (a pre-started container's, prestarts.ts), whose hostname is by default its id's. */
export function withId(record: ContainerRecord, id: string, hostname = id.slice(0, 12)): ContainerRecord {
  return { ...record, id, config: { ...record.config, hostname } }
}
