/**
 * Volumes on disk, one directory each, so every process sharing a runtime
 * root sees the same volumes:
 *
 *   volumes/<name>/_data       what containers see (bind-mounted)
 *   volumes/<name>/meta.json   {@link VolumeMeta}
 *
 * A volume is built in a hidden scratch directory and renamed into place,
 * so it is either complete or absent; two processes creating the same name
 * race on that rename, and the loser simply adopts the winner's volume.
 * Removal renames it away first for the same reason.
 *
 * Whether a volume is in use is the container layer's knowledge, asked
 * through the `usersOf` callback, so storage never imports containers.
 *
 * @module
 */
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { InvalidArgumentError } from '../errors'
import { newId } from '../util/ids'
import { readJson, writeJson } from '../util/json-file'
import { VolumeInUseError, VolumeNotFoundError } from './volume-errors'
import { checkVolumeName, isVolumeName } from './volume-name'
import { removeTreeAt } from '../files/tree'
import type { Prunable } from '../util/prune-filter'

/** What is stored about a volume (meta.json). */
export interface VolumeMeta {
  /** The volume's name; 64 hex digits for an anonymous volume. */
  name: string
  /** ISO 8601. */
  createdAt: string
  /** Labels given at create (`docker volume create --label`). */
  labels: Record<string, string>
  /** Made for `-v /path` or `Volume.create()` without a name; removed with its container by `remove({ volumes: true })`. */
  anonymous: boolean
  /** The image's content was copied in once (Docker's seeding); never again. */
  seeded?: boolean
}

/** A volume as `inspect()` reports it. */
export interface VolumeInfo extends VolumeMeta {
  /** Host directory holding the volume's files. */
  mountpoint: string
  /** Ids of the containers referencing the volume (running or not). */
  usedBy: string[]
  /** Always "local": a directory on this host, Docker's default driver. */
  driver: 'local'
  /** Always "local": the volume exists on this host only. */
  scope: 'local'
}

/** Ids of the containers that reference a volume; supplied by the container layer. */
export type VolumeUsers = (name: string) => string[] | Promise<string[]>

/** Options of `Volume.create`. */
export interface VolumeCreateOptions {
  /** Labels for your own bookkeeping (`--label`); ignored when a volume of that name exists already (that one is returned as it is). */
  labels?: Record<string, string>
}

/** Files of one volume. */
export interface VolumePaths {
  dir: string
  data: string
  meta: string
}

function checkLabels(labels: unknown): Record<string, string> {
  if (labels === undefined) return {}
  if (!labels || typeof labels !== 'object' || Array.isArray(labels) || Object.values(labels).some((v) => typeof v !== 'string'))
    throw new InvalidArgumentError('invalid volume labels: expected an object of string values, e.g. { team: "web" }')
  return { ...(labels as Record<string, string>) }
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code
}

/** The volumes of one runtime root. */
export class VolumeStore {
  /** `<root>/volumes`. */
  readonly dir: string

  /**
   * @param root - the runtime root directory
   * @param usersOf - ids of the containers referencing a volume; without it, no volume is ever in use
   */
  constructor(
    root: string,
    private readonly usersOf: VolumeUsers = () => [],
  ) {
    this.dir = path.join(root, 'volumes')
    // 0701 like Docker: containers' users may traverse to a mounted _data, but not list the volumes.
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o701 })
  }

  /** Where a volume's files are (whether or not it exists). */
  paths(name: string): VolumePaths {
    const dir = path.join(this.dir, name)
    return { dir, data: path.join(dir, '_data'), meta: path.join(dir, 'meta.json') }
  }

  /**
   * Creates a volume, or returns the existing one of that name (like Docker).
   * Without a name, makes an anonymous volume with a 64-hex generated name.
   */
  async create(name?: string, opts: VolumeCreateOptions = {}): Promise<VolumeMeta> {
    if (name !== undefined) checkVolumeName(name)
    const labels = checkLabels(opts.labels)
    const meta: VolumeMeta = { name: name ?? newId(), createdAt: new Date().toISOString(), labels, anonymous: name === undefined }
    return this.find(meta.name) ?? this.install(meta)
  }

  /** Builds the volume in a scratch dir and renames it into place; if another process won, returns theirs. */
  private install(meta: VolumeMeta): VolumeMeta {
    const scratch = path.join(this.dir, `.new-${crypto.randomBytes(8).toString('hex')}`)
    fs.mkdirSync(scratch, { mode: 0o701 })
    try {
      fs.mkdirSync(path.join(scratch, '_data'), { mode: 0o755 })
      writeJson(path.join(scratch, 'meta.json'), meta)
      fs.renameSync(scratch, this.paths(meta.name).dir)
      return meta
    } catch (err) {
      removeTreeAt(scratch)
      const existing = ['ENOTEMPTY', 'EEXIST'].includes(errCode(err) ?? '') ? this.find(meta.name) : undefined
      if (existing) return existing
      throw err
    }
  }

  /** The volume of that name, or undefined. */
  find(name: string): VolumeMeta | undefined {
    if (!isVolumeName(name)) return undefined
    return readJson<VolumeMeta>(this.paths(name).meta)
  }

  /** The volume of that name; throws ENOVOLUME when there is none, EINVALID for a bad name. */
  async get(name: string): Promise<VolumeMeta> {
    checkVolumeName(name)
    const meta = this.find(name)
    if (!meta) throw new VolumeNotFoundError(name)
    return meta
  }

  /** Every volume, sorted by name. */
  async list(): Promise<VolumeMeta[]> {
    const names = fs.readdirSync(this.dir).filter(isVolumeName).sort()
    return names.map((n) => this.find(n)).filter((m): m is VolumeMeta => m !== undefined)
  }

  /** Ids of the containers referencing the volume. */
  async users(name: string): Promise<string[]> {
    return [...(await this.usersOf(name))]
  }

  /** What Docker's `volume inspect` shows. */
  async inspect(name: string): Promise<VolumeInfo> {
    const meta = await this.get(name)
    return { ...meta, mountpoint: this.paths(name).data, usedBy: await this.users(name), driver: 'local', scope: 'local' }
  }

  /**
   * Removes a volume and its data. Fails with EINUSE while containers
   * reference it unless `force`; a missing volume is ENOVOLUME unless `force`.
   */
  async remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    checkVolumeName(name)
    if (!this.find(name)) {
      if (opts.force) return
      throw new VolumeNotFoundError(name)
    }
    const users = await this.users(name)
    if (users.length > 0 && !opts.force) throw new VolumeInUseError(name, users)
    this.delete(name)
  }

  /** Renames the volume out of sight (atomic: it is gone for every reader at once), then deletes it. */
  private delete(name: string): boolean {
    const grave = path.join(this.dir, `.rm-${crypto.randomBytes(8).toString('hex')}`)
    try {
      fs.renameSync(this.paths(name).dir, grave)
    } catch (err) {
      if (errCode(err) === 'ENOENT') return false
      throw err
    }
    removeTreeAt(grave)
    return true
  }

  /**
   * Removes every volume no container references; returns the removed names.
   * `anonymousOnly` keeps named volumes (Docker 23+'s default for `volume prune`).
   */
  async prune(opts: { anonymousOnly?: boolean; selected?: (volume: Prunable) => boolean } = {}): Promise<string[]> {
    const removed: string[] = []
    for (const meta of await this.list()) {
      if (opts.anonymousOnly && !meta.anonymous) continue
      if (opts.selected && !opts.selected({ created: meta.createdAt, labels: meta.labels })) continue
      if ((await this.users(meta.name)).length > 0) continue
      if (this.delete(meta.name)) removed.push(meta.name)
    }
    return removed
  }
}
