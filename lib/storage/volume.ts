/**
 * The public face of volumes: `Volume.create('html')`, `Volume.get`,
 * `Volume.list`, `Volume.prune`, and `v.inspect()` / `v.remove()`.
 *
 * Each method works on a {@link VolumeStore}: the one passed as `{ store }`,
 * or `{ runtime }`'s, or else the default one bound with
 * {@link Volume.useDefaultStore} (the default runtime's, so that "in use"
 * knows about that runtime's containers).
 *
 * @module
 */
import { DefaultBinding } from '../util/default-binding'
import type { VolumeCreateOptions, VolumeInfo, VolumeMeta, VolumeStore } from './volumes'
import { pruneFilter, type PruneFilters } from '../util/prune-filter'

/** Selects the store a {@link Volume} method works on. */
export interface VolumeStoreOption {
  /** The store to use; defaults to `runtime.volumes`, else to the default runtime's. @internal */
  store?: VolumeStore
  /** A `Runtime`, like the `runtime` option of containers; omitted, the default runtime. */
  runtime?: VolumeContext
}

/** What the volume API needs from a runtime. A `Runtime` is one. */
export interface VolumeContext {
  /** The runtime's volumes. @internal */
  readonly volumes: VolumeStore
}

const defaultStore = new DefaultBinding<VolumeStore>('no volume store: pass { runtime } or { store }')

function storeOf(opts?: VolumeStoreOption): VolumeStore {
  return defaultStore.of(opts?.store ?? opts?.runtime?.volumes)
}

/** A named (or anonymous) volume: a directory managed by the runtime that outlives containers. */
export class Volume {
  /** The volume's name (64 hex digits for an anonymous volume). */
  readonly name: string
  /** Host directory holding the volume's files. */
  readonly mountpoint: string
  /** When it was created (ISO 8601). */
  readonly createdAt: string
  /** Labels given at create (frozen). */
  readonly labels: Readonly<Record<string, string>>
  /** Made without a name; removed with its container by `remove({ volumes: true })`. */
  readonly anonymous: boolean

  private constructor(
    private readonly store: VolumeStore,
    meta: VolumeMeta,
  ) {
    this.name = meta.name
    this.mountpoint = store.paths(meta.name).data
    this.createdAt = meta.createdAt
    this.labels = Object.freeze({ ...meta.labels })
    this.anonymous = meta.anonymous
  }

  /** Binds the store used when a method gets no `{ store }` (called by the runtime). @internal */
  static useDefaultStore(provider: (() => VolumeStore) | undefined): void {
    defaultStore.bind(provider)
  }

  /**
   * Creates a volume, or returns the existing one of that name (like Docker).
   * `Volume.create()` or `Volume.create({ labels })` makes an anonymous volume.
   */
  static async create(name?: string | (VolumeCreateOptions & VolumeStoreOption), opts: VolumeCreateOptions & VolumeStoreOption = {}): Promise<Volume> {
    if (name !== null && typeof name === 'object') return Volume.create(undefined, name)
    const store = storeOf(opts)
    return new Volume(store, await store.create(name, { labels: opts.labels }))
  }

  /** The volume of that name; ENOVOLUME when there is none. */
  static async get(name: string, opts?: VolumeStoreOption): Promise<Volume> {
    const store = storeOf(opts)
    return new Volume(store, await store.get(name))
  }

  /** Every volume, sorted by name. */
  static async list(opts?: VolumeStoreOption): Promise<Volume[]> {
    const store = storeOf(opts)
    return (await store.list()).map((meta) => new Volume(store, meta))
  }

  /**
   * Removes every volume no container references (only anonymous ones with `anonymousOnly`), as
   * `docker volume prune`: `until` and `label` filters as its `--filter` (EINVALID for a malformed
   * one, before anything is removed). Returns the removed names.
   */
  static async prune(opts?: VolumeStoreOption & PruneFilters & { anonymousOnly?: boolean }): Promise<string[]> {
    const selected = pruneFilter(opts ?? {})
    return storeOf(opts).prune({ anonymousOnly: opts?.anonymousOnly, selected })
  }

  /** Name, mountpoint, creation time, labels and the ids of the containers using it. */
  async inspect(): Promise<VolumeInfo> {
    return this.store.inspect(this.name)
  }

  /** Deletes the volume and its data; EINUSE while containers reference it, unless `force`. */
  async remove(opts: { force?: boolean } = {}): Promise<void> {
    await this.store.remove(this.name, opts)
  }
}
