/**
 * From the user's mount options to what the shim executes:
 *
 *   parseMounts    -v strings, typed mounts and tmpfs -> MountRequest[] (pure, validated)
 *   resolveMounts  makes them exist: volumes created, -v host dirs made
 *   toMountOps     ResolvedMount[] -> MountOp[], parents before children
 *   mountRecords   ResolvedMount[] -> Docker-style `inspect().mounts`
 *
 * Everything is validated before anything is created, so a bad option
 * never leaves an anonymous volume or a host directory behind.
 *
 * @module
 */
import * as fs from 'node:fs'
import { InvalidArgumentError } from '../errors'
import { MountExtra, type MountOp } from '../shim/spec'
import { MS_RDONLY } from '../sys/libc'
import type { MountRecord, MountRequest, MountRunOptions, ResolvedMount } from './mount-types'
import { parseMountOption, parseTmpfsOption, parseVolumeSpec } from './mount-spec'
import { MountSourceNotFoundError } from './volume-errors'
import type { VolumeStore } from './volumes'

export type { MountOption, MountRecord, MountRequest, MountRunOptions, ResolvedMount } from './mount-types'

function list<T>(value: T[] | undefined, what: string): T[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) throw new InvalidArgumentError(`invalid ${what} option: expected an array`)
  return value
}

/** Parses and validates every mount option; throws EINVALID on the first bad one or on a duplicate target. */
export function parseMounts(opts: MountRunOptions): MountRequest[] {
  const requests = [
    ...list(opts.volumes, 'volumes').map(parseVolumeSpec),
    ...list(opts.mounts, 'mounts').map(parseMountOption),
    ...(opts.tmpfs === undefined ? [] : parseTmpfsOption(opts.tmpfs)),
  ]
  const seen = new Set<string>()
  for (const r of requests) {
    if (seen.has(r.target)) throw new InvalidArgumentError(`duplicate mount point: ${r.target} (each container path can be mounted once)`)
    seen.add(r.target)
  }
  return requests
}

function checkBindSource(r: MountRequest): void {
  if (r.type === 'bind' && !r.createSource && !fs.existsSync(r.source)) throw new MountSourceNotFoundError(r.source)
}

async function resolveOne(r: MountRequest, volumes: VolumeStore): Promise<ResolvedMount> {
  switch (r.type) {
    case 'bind':
      // Docker's -v makes a missing host path as a directory; --mount (createSource false) was checked earlier.
      if (r.createSource && !fs.existsSync(r.source)) fs.mkdirSync(r.source, { recursive: true, mode: 0o755 })
      return { type: 'bind', source: r.source, target: r.target, readOnly: r.readOnly, mode: r.mode }
    case 'volume': {
      const meta = await volumes.create(r.name)
      const { name, anonymous } = meta
      return { type: 'volume', name, source: volumes.paths(name).data, target: r.target, readOnly: r.readOnly, mode: r.mode, anonymous, copy: r.copy }
    }
    case 'tmpfs':
      return { ...r }
  }
}

/**
 * Validates the mount options and makes their sources exist: named volumes
 * are created if absent, anonymous ones generated, missing `-v` host
 * directories created; a missing `mounts` bind source is ENOTFOUND.
 */
export async function resolveMounts(opts: MountRunOptions, volumes: VolumeStore): Promise<ResolvedMount[]> {
  const requests = parseMounts(opts)
  requests.forEach(checkBindSource)
  const resolved: ResolvedMount[] = []
  for (const r of requests) resolved.push(await resolveOne(r, volumes))
  return resolved
}

function depth(target: string): number {
  return target.split('/').length
}

function toOp(m: ResolvedMount): MountOp {
  if (m.type === 'tmpfs')
    return { kind: 'mount', type: 'tmpfs', source: 'tmpfs', target: m.target, flags: m.flags | (m.readOnly ? MS_RDONLY : 0), data: m.data }
  // A bind ignores MS_RDONLY on creation, so read-only is a separate step of the shim.
  return { kind: 'mount', type: 'bind', source: m.source, target: m.target, flags: 0, extra: m.readOnly ? MountExtra.ReadOnly : 0 }
}

/** The shim's mount steps; shallower targets first, so `/a/b` lands on top of `/a`, not under it. */
export function toMountOps(resolved: ResolvedMount[]): MountOp[] {
  return [...resolved].sort((a, b) => depth(a.target) - depth(b.target)).map(toOp)
}

/** The mounts as `inspect().mounts` shows them (Docker's `Mounts`). */
export function mountRecords(resolved: ResolvedMount[]): MountRecord[] {
  return resolved.map((m): MountRecord => {
    const base = { destination: m.target, rw: !m.readOnly }
    if (m.type === 'tmpfs') return { type: 'tmpfs', source: '', mode: '', ...base }
    if (m.type === 'bind') return { type: 'bind', source: m.source, mode: m.mode, ...base }
    return { type: 'volume', name: m.name, source: m.source, mode: m.mode, anonymous: m.anonymous, ...base }
  })
}

/** Names of the volumes a container's mounts use; `anonymousOnly` for what `remove({ volumes: true })` deletes. */
export function volumeNames(resolved: ResolvedMount[], anonymousOnly = false): string[] {
  return resolved.flatMap((m) => (m.type === 'volume' && (!anonymousOnly || m.anonymous) ? [m.name] : []))
}
