/**
 * The refusal of what rootless mode does not do yet.
 *
 * @module
 */
import { MiniContainerError } from '../errors'

/**
 * A rootless runtime (a caller that is not root, or `rootless: true`) was
 * asked for something rootless mode does not do yet: containers and
 * networks. Images and volumes work. `Runtime.preflight()` tells what the
 * host offers; running as root does everything.
 */
export class RootlessUnsupportedError extends MiniContainerError {
  /** @param what - what was asked, e.g. "start container web". */
  constructor(what: string) {
    super('EUNSUPPORTED', `cannot ${what}: rootless containers are not implemented yet; see Runtime.preflight() (npx minicontainer doctor) for what this host offers, or run as root`)
  }
}
