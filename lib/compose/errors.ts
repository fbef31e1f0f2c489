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

/** A value of a Compose Specification key that minicontainer does not carry out (an AppArmor profile, an SELinux label): EUNSUPPORTED naming it. */
export class UnsupportedComposeValueError extends MiniContainerError {
  /** @param key - the key path, e.g. services.api.security_opt[0]; @param where - file:line:column; @param why - what is not carried out and what to write instead */
  constructor(readonly key: string, where: string, why: string) {
    super('EUNSUPPORTED', `${where}: ${key}: ${why}`)
  }
}
