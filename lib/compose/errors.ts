/**
 * The errors particular to compose files.
 *
 * @module
 */
import { MiniContainerError } from '../errors'

/** A Compose Specification key minicontainer does not carry out (yet): EUNSUPPORTED, never silently dropped. */
export class UnsupportedComposeKeyError extends MiniContainerError {
  /** @param key - the key path, e.g. services.api.build; @param where - file:line:column */
  constructor(readonly key: string, where: string) {
    super('EUNSUPPORTED', `${where}: ${key} is a Compose Specification key minicontainer does not carry out yet; remove it (or keep it in an override file you do not pass)`)
  }
}
