/**
 * From `run()` options to the container record stored at create time:
 * validation, the image's defaults, and Docker's merge rules.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import type { ContainerContext } from './context'
import { normaliseRef } from '../image/store'
import { generateName, newId } from '../util/ids'
import { envList, mergeEnv } from './process-spec'
import { checkPortOptions } from './network-options'
import { checkRunOptions } from './run-options'
import type { ContainerRecord, RunOptions } from './types'

/** Docker's default: every container on the default bridge. */
const defaultNetwork = 'bridge'

/** Validates options and builds the record of a new container. */
export function buildRecord(rt: ContainerContext, imageRef: string, cmd: string[] | undefined, opts: RunOptions): ContainerRecord {
  checkRunOptions(opts)
  if (cmd !== undefined && (!Array.isArray(cmd) || cmd.some((a) => typeof a !== 'string')))
    throw new InvalidArgumentError('the command must be an array of strings, e.g. ["sh", "-c", "echo hi"]')
  checkPortOptions(opts.network ?? defaultNetwork, opts)
  const image = rt.images.resolve(imageRef)
  const id = newId()
  const command = cmd && cmd.length ? cmd : (image.config.cmd ?? [])
  const entrypoint = opts.entrypoint ?? image.config.entrypoint ?? []
  if (entrypoint.length + command.length === 0) throw new InvalidArgumentError(`no command given and image ${imageRef} has no default command`)
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
      binds: opts.volumes ?? [],
      mountOptions: opts.mounts ?? [],
      tmpfs: opts.tmpfs ?? {},
      portBindings: opts.ports ?? [],
      publishAllPorts: !!opts.publishAll,
      links: opts.links ?? [],
      networkingConfig: { ...(opts.ip !== undefined ? { ip: opts.ip } : {}), aliases: opts.aliases ?? [] },
    },
  }
}
