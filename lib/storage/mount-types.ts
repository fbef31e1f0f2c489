/**
 * The shapes a mount goes through: what the user writes ({@link MountOption},
 * `-v` strings, `tmpfs`), what parsing makes of it ({@link MountRequest}),
 * what exists on the host once resolved ({@link ResolvedMount}, plain JSON so
 * the container record can keep it for restarts), and what `inspect()`
 * shows ({@link MountRecord}, Docker's shape).
 *
 * @module
 */

/** A mount in typed form, like Docker's `--mount`. */
export interface MountOption {
  /** 'bind' a host path, 'volume' a named or anonymous volume, 'tmpfs' a memory-backed filesystem. */
  type: 'bind' | 'volume' | 'tmpfs'
  /**
   * bind: absolute host path, which must exist. volume: the volume name;
   * omitted, an anonymous volume is made. tmpfs: not allowed.
   */
  source?: string
  /** Absolute path inside the container. */
  target: string
  /** Mount it read-only (`readonly`); default false. */
  readOnly?: boolean
  /** volume only: do not copy the image's content into an empty volume (Docker's `volume-nocopy`). */
  noCopy?: boolean
  /** tmpfs only: size limit, in bytes or with a k/m/g/% suffix ("64m"); default: the kernel's (half of RAM). */
  tmpfsSize?: number | string
  /** tmpfs only: permission bits of the tmpfs root, e.g. 0o1777. */
  tmpfsMode?: number
}

/** The mount-related options of `run()`/`create()`. */
export interface MountRunOptions {
  /** Docker `-v` strings: `/host:/ctr[:opts]`, `name:/ctr[:opts]`, `/ctr` (anonymous volume); opts are `ro`, `rw`, `z`, `Z`, `nocopy`, `rprivate`. */
  volumes?: string[]
  /** Docker `--mount` in typed form. */
  mounts?: MountOption[]
  /** tmpfs mounts: `{ '/run': 'size=64m,mode=1777' }`, or Docker `--tmpfs` strings `'/run:size=64m'`. */
  tmpfs?: Record<string, string> | string[]
  /** Read-only root filesystem (carried out by the rootfs spec, not by a mount). */
  readOnly?: boolean
}

/** A parsed, validated mount that does not exist yet (no volume created, no directory made). */
export type MountRequest =
  | { type: 'bind'; source: string; target: string; readOnly: boolean; mode: string; createSource: boolean }
  /** `name` undefined: an anonymous volume. */
  | { type: 'volume'; name?: string; target: string; readOnly: boolean; mode: string; copy: boolean }
  | { type: 'tmpfs'; target: string; readOnly: boolean; flags: number; data: string }

/** A mount ready to be made: host paths exist, volumes exist. Plain JSON. */
export type ResolvedMount =
  | { type: 'bind'; source: string; target: string; readOnly: boolean; mode: string }
  /** `source` is the volume's `_data` directory. */
  | { type: 'volume'; name: string; source: string; target: string; readOnly: boolean; mode: string; anonymous: boolean; copy: boolean }
  | { type: 'tmpfs'; target: string; readOnly: boolean; flags: number; data: string }

/** A mount as `inspect().mounts` shows it, like Docker's `Mounts[]`. */
export interface MountRecord {
  /** 'bind', 'volume' or 'tmpfs' (Docker's `Type`). */
  type: 'bind' | 'volume' | 'tmpfs'
  /** The volume name (volumes only). */
  name?: string
  /** Host path ("" for tmpfs). */
  source: string
  /** Path inside the container. */
  destination: string
  /** The mode text given with `-v` ("ro", "z" ...), "" otherwise. */
  mode: string
  /** Writable. */
  rw: boolean
  /** Volumes only: generated name, removed with the container by `remove({ volumes: true })`. */
  anonymous?: boolean
}
