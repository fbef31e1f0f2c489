/**
 * The run-time check of `run()`'s options for JavaScript callers (the
 * TypeScript types already refuse a misspelt option): every key must be a
 * known option, and each value must have the right type.
 *
 * @module
 */
import { resourceOptionNames } from '../cgroups'
import { InvalidArgumentError } from '../errors'
import type { RuntimeOption } from './context'
import type { RunOptions } from './types'

/** Every option of `run()`; the type below fails to compile when RunOptions gains a key this list lacks. */
const optionNames = [
  'name', 'hostname', 'env', 'workdir', 'user', 'userns', 'groupAdd', 'entrypoint', 'init', 'rm', 'restart', 'detach', 'keepOnOwnerDeath', 'network', 'capAdd', 'capDrop',
  'privileged', 'deviceCgroupRules', 'devices', 'readOnly', 'securityOpt', 'sysctls', 'labels', 'signal', 'runtime',
  'volumes', 'mounts', 'tmpfs',
  'ip', 'aliases', 'links', 'dns', 'extraHosts', 'exposeHostPorts', 'ports', 'publishAll',
  'healthcheck', 'files',
  'pull', 'pullOptions',
  'logMaxSize', 'logMaxFiles', 'stopSignal', 'stopTimeout', 'expose',
  ...resourceOptionNames,
] as const satisfies readonly (keyof (RunOptions & RuntimeOption))[]

type Unlisted = Exclude<keyof (RunOptions & RuntimeOption), (typeof optionNames)[number]>
/** Compile-time guard: `never` unless an option is missing from {@link optionNames}. */
const everyOptionListed: Unlisted extends never ? true : Unlisted = true
void everyOptionListed

const known = new Set<string>(optionNames)

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string')

/** Options whose value is a list of strings, with an example for the error message. */
const stringLists: Partial<Record<keyof RunOptions, string>> = {
  entrypoint: '["/bin/sh", "-c"]',
  capAdd: '["NET_ADMIN"]',
  capDrop: '["MKNOD"]',
  deviceCgroupRules: '["c 1:11 rw"]',
  groupAdd: '["staff", "4242"]',
  securityOpt: '["seccomp=unconfined", "no-new-privileges"]',
  volumes: '["/srv:/data:ro"]',
  aliases: '["db"]',
  links: '["mysql01:mysql"]',
  ports: '["8080:80", "127.0.0.1:5353:53/udp"]',
  expose: '["8080", "53/udp"]',
}

/** Options whose value is a string. */
const strings: (keyof RunOptions)[] = ['name', 'hostname', 'workdir', 'user', 'ip', 'stopSignal']

/** Throws EINVALID for an unknown option or a value of the wrong type. */
export function checkRunOptions(opts: RunOptions & RuntimeOption): void {
  for (const key of Object.keys(opts)) {
    if (!known.has(key)) throw new InvalidArgumentError(`unknown option "${key}"`)
  }
  for (const [key, example] of Object.entries(stringLists)) {
    const v = opts[key as keyof RunOptions]
    if (v !== undefined && !isStringList(v)) throw new InvalidArgumentError(`option "${key}" must be an array of strings, e.g. ${example}`)
  }
  for (const key of strings) {
    const v = opts[key]
    if (v !== undefined && typeof v !== 'string') throw new InvalidArgumentError(`option "${key}" must be a string`)
  }
  if (opts.workdir !== undefined && !opts.workdir.startsWith('/'))
    throw new InvalidArgumentError(`the working directory '${opts.workdir}' is invalid, it needs to be an absolute path`)
  if (opts.stopTimeout !== undefined && !(typeof opts.stopTimeout === 'number' && opts.stopTimeout >= 0))
    throw new InvalidArgumentError(`option "stopTimeout" must be a number of seconds (0 or more), e.g. 30`)
  if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) throw new InvalidArgumentError('option "signal" must be an AbortSignal')
  if (opts.userns !== undefined && opts.userns !== 'keep-id') throw new InvalidArgumentError(`option "userns" must be 'keep-id', not ${JSON.stringify(opts.userns)}`)
}
