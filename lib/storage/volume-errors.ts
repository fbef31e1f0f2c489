/**
 * The errors of volumes and mounts, each with its stable code, so callers
 * can tell "no such volume" from "volume busy" without reading messages.
 *
 * @module
 */
import { MiniContainerError } from '../errors'

/** No volume has the given name (code ENOVOLUME). */
export class VolumeNotFoundError extends MiniContainerError {
  /** @param volumeName - the name that was looked up. */
  constructor(readonly volumeName: string) {
    super('ENOVOLUME', `no such volume: ${volumeName} (create it with Volume.create("${volumeName}") or mount it to create it)`)
  }
}

/** The volume is referenced by containers and removal was not forced (code EINUSE). */
export class VolumeInUseError extends MiniContainerError {
  /** @param volumeName - the volume; @param users - ids of the containers using it. */
  constructor(
    readonly volumeName: string,
    readonly users: string[],
  ) {
    super(
      'EINUSE',
      `volume ${volumeName} is in use by container(s) ${users.map((id) => id.slice(0, 12)).join(', ')}; ` +
        'remove those containers first, or pass { force: true }',
    )
  }
}

/** A `mounts` bind source does not exist on the host (code ENOTFOUND); `-v` creates it instead. */
export class MountSourceNotFoundError extends MiniContainerError {
  /** @param source - the missing host path. */
  constructor(readonly source: string) {
    super('ENOTFOUND', `bind source path does not exist: ${source} (create it first, or use the volumes: ["${source}:..."] form, which creates it)`)
  }
}
