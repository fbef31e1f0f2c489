/**
 * From `run()` options to the container record stored at create time:
 * validation, the image's defaults, and Docker's merge rules.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import type { Runtime } from '../runtime'
import { normaliseRef } from '../image/store'
import { generateName, newId } from '../util/ids'
import { envList, mergeEnv } from './process-spec'
import { checkPortOptions } from './network-options'
import type { ContainerRecord, RunOptions } from './types'

const knownOptions = new Set(['name', 'hostname', 'env', 'workdir', 'user', 'entrypoint', 'init', 'rm', 'detach', 'network', 'capAdd', 'capDrop', 'privileged', 'readOnly', 'labels', 'signal', 'runtime'])

/** Docker's default: every container on the default bridge. */
const defaultNetwork = 'bridge'

/** Options owned by feature layers (storage, network) and kept verbatim in the record. */
const featureOptions = new Set(['volumes', 'mounts', 'tmpfs', 'ip', 'aliases', 'links', 'dns', 'extraHosts', 'ports', 'publishAll'])

/** Validates options and builds the record of a new container. */
export function buildRecord(rt: Runtime, imageRef: string, cmd: string[] | undefined, opts: RunOptions): ContainerRecord {
  for (const key of Object.keys(opts))
    if (!knownOptions.has(key) && !featureOptions.has(key)) throw new InvalidArgumentError(`unknown option "${key}"`)
  if (cmd !== undefined && (!Array.isArray(cmd) || cmd.some((a) => typeof a !== 'string')))
    throw new InvalidArgumentError('the command must be an array of strings, e.g. ["sh", "-c", "echo hi"]')
  checkPortOptions(opts.network ?? defaultNetwork, opts)
  const image = rt.images.resolve(imageRef)
  const id = newId()
  const command = cmd && cmd.length ? cmd : (image.config.cmd ?? [])
  const entrypoint = opts.entrypoint ?? image.config.entrypoint ?? []
  if (entrypoint.length + command.length === 0) throw new InvalidArgumentError(`no command given and image ${imageRef} has no default command`)
  const extra: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(opts)) if (featureOptions.has(k)) extra[k] = v
  return {
    id,
    name: opts.name ?? generateName(),
    image: imageRef.includes(':') || imageRef.startsWith('sha256') ? imageRef : normaliseRef(imageRef),
    imageId: image.id,
    created: new Date().toISOString(),
    config: {
      cmd: command,
      entrypoint,
      env: mergeEnv(image.config.env ?? [], envList(opts.env)),
      workdir: opts.workdir ?? image.config.workdir ?? '/',
      user: opts.user ?? image.config.user ?? '',
      hostname: opts.hostname ?? id.slice(0, 12),
      labels: { ...(image.config.labels ?? {}), ...(opts.labels ?? {}) },
    },
    hostConfig: {
      networkMode: opts.network ?? defaultNetwork,
      init: !!opts.init,
      autoRemove: !!opts.rm,
      detach: !!opts.detach,
      privileged: !!opts.privileged,
      readonlyRootfs: !!opts.readOnly,
      capAdd: opts.capAdd ?? [],
      capDrop: opts.capDrop ?? [],
      extra,
    },
  }
}
