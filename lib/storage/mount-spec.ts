/**
 * The three ways a user writes a mount, each parsed into a
 * {@link MountRequest}: Docker's `-v` grammar, the typed `--mount` form,
 * and `--tmpfs`. Pure: nothing here touches the disk.
 *
 * `-v` follows Docker's Linux parser: `[source:]target[:mode]`, where a
 * source starting with `/` is a host path and anything else a volume name.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'
import type { MountOption, MountRequest } from './mount-types'
import { containerPath, hostPath } from './mount-paths'
import { parseTmpfsOptions, tmpfsOptionString } from './mount-tmpfs'
import { checkVolumeName } from './volume-name'

interface VolumeMode {
  readOnly: boolean
  copy: boolean
}

const modeGroups: Record<string, string> = { rw: 'access', ro: 'access', z: 'label', Z: 'label', copy: 'copy', nocopy: 'copy', private: 'propagation', rprivate: 'propagation' }

function invalidSpec(spec: string, why: string): never {
  throw new InvalidArgumentError(`invalid volume specification "${spec}": ${why}`)
}

/** Parses the mode part of a `-v` spec ("ro", "rw,z", "nocopy"); z/Z and private propagation are accepted and have no effect. */
function parseMode(spec: string, mode: string, isVolume: boolean): VolumeMode {
  const seen = new Set<string>()
  for (const word of mode.split(',')) {
    const group = modeGroups[word]
    if (!group) {
      const hint = /^r?(shared|slave)$/.test(word) ? ' (only private propagation is supported)' : ''
      invalidSpec(spec, `unknown mode "${word}"${hint}; use ro, rw, z, Z, nocopy`)
    }
    if (seen.has(group)) invalidSpec(spec, `conflicting modes in "${mode}"`)
    if (group === 'copy' && !isVolume) invalidSpec(spec, `"${word}" applies to volumes only`)
    seen.add(group)
  }
  const words = mode.split(',')
  return { readOnly: words.includes('ro'), copy: !words.includes('nocopy') }
}

function isMode(text: string): boolean {
  return text.split(',').every((w) => w in modeGroups)
}

/** Parses one Docker `-v` string. */
export function parseVolumeSpec(spec: string): MountRequest {
  if (typeof spec !== 'string') throw new InvalidArgumentError(`invalid volume specification ${JSON.stringify(spec)}: expected a string`)
  const parts = spec.split(':')
  if (parts.length > 3 || parts.some((p) => p === '')) invalidSpec(spec, 'use [source:]target[:mode], e.g. "/host/dir:/data:ro"')
  // "/data:ro" would be an anonymous volume with a mode, which Docker refuses too.
  if (parts.length === 2 && isMode(parts[1])) invalidSpec(spec, 'an anonymous volume takes no mode; give a source, e.g. "name:/data:ro"')
  if (parts.length === 1) return { type: 'volume', target: containerPath(parts[0], spec), readOnly: false, mode: '', copy: true }
  const [source, target, mode = ''] = parts
  const isBind = source.startsWith('/')
  const m = mode ? parseMode(spec, mode, !isBind) : { readOnly: false, copy: true }
  const dest = containerPath(target, spec)
  if (isBind) return { type: 'bind', source: hostPath(source, spec), target: dest, readOnly: m.readOnly, mode, createSource: true }
  checkVolumeName(source, ` in "${spec}"; to bind a host directory, give its absolute path`)
  return { type: 'volume', name: source, target: dest, readOnly: m.readOnly, mode, copy: m.copy }
}

function describe(opt: MountOption): string {
  try {
    return JSON.stringify(opt)
  } catch {
    return String(opt)
  }
}

function refuse(opt: MountOption, why: string): never {
  throw new InvalidArgumentError(`invalid mount ${describe(opt)}: ${why}`)
}

function checkOnlyFor(opt: MountOption, type: MountOption['type'], fields: (keyof MountOption)[]): void {
  for (const f of fields) if (opt.type !== type && opt[f] !== undefined) refuse(opt, `${f} applies to type "${type}" only`)
}

/** Parses one typed mount (Docker `--mount`); a missing bind source will be an error, not created. */
export function parseMountOption(opt: MountOption): MountRequest {
  if (!opt || typeof opt !== 'object') throw new InvalidArgumentError(`invalid mount ${describe(opt)}: expected an object`)
  checkOnlyFor(opt, 'tmpfs', ['tmpfsSize', 'tmpfsMode'])
  checkOnlyFor(opt, 'volume', ['noCopy'])
  const spec = describe(opt)
  const target = containerPath(opt.target, spec)
  const readOnly = opt.readOnly === true
  switch (opt.type) {
    case 'bind':
      if (opt.source === undefined) refuse(opt, 'a bind needs a source')
      return { type: 'bind', source: hostPath(opt.source, spec), target, readOnly, mode: '', createSource: false }
    case 'volume':
      if (opt.source !== undefined) checkVolumeName(opt.source, ` in mount ${spec}; to bind a host path, use type "bind"`)
      return { type: 'volume', name: opt.source, target, readOnly, mode: '', copy: opt.noCopy !== true }
    case 'tmpfs':
      if (opt.source !== undefined) refuse(opt, 'a tmpfs takes no source')
      return parseTmpfs(target, tmpfsOptionString(target, opt.tmpfsSize, opt.tmpfsMode), readOnly)
    default:
      return refuse(opt, 'type must be "bind", "volume" or "tmpfs"')
  }
}

function parseTmpfs(target: string, options: string, readOnly = false): MountRequest {
  const s = parseTmpfsOptions(target, options)
  return { type: 'tmpfs', target, readOnly: readOnly || s.readOnly, flags: s.flags, data: s.data }
}

/** Parses `tmpfs: { target: options }` or Docker `--tmpfs` strings (`"/run:size=64m"`). */
export function parseTmpfsOption(tmpfs: Record<string, string> | string[]): MountRequest[] {
  if (Array.isArray(tmpfs))
    return tmpfs.map((entry) => {
      const colon = String(entry).indexOf(':')
      const [target, options] = colon < 0 ? [String(entry), ''] : [entry.slice(0, colon), entry.slice(colon + 1)]
      return parseTmpfs(containerPath(target, entry), options)
    })
  if (!tmpfs || typeof tmpfs !== 'object') throw new InvalidArgumentError('invalid tmpfs option: expected { "/path": "size=64m,mode=1777" } or ["/path:size=64m"]')
  return Object.entries(tmpfs).map(([target, options]) => parseTmpfs(containerPath(target, `${target}:${options}`), String(options ?? '')))
}
