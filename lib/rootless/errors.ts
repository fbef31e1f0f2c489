/**
 * The refusal of what rootless mode does not do (yet).
 *
 * @module
 */
import { MiniContainerError } from '../errors'

/**
 * A rootless runtime (a caller that is not root, or `rootless: true`) was
 * asked for something rootless mode does not do: `host` or `container:`
 * networks (any network without a subordinate id range), resource limits
 * without a delegated cgroup. The message
 * says why and what to do instead. `Runtime.preflight()` tells what the host
 * offers; running as root does everything.
 */
export class RootlessUnsupportedError extends MiniContainerError {
  /**
   * @param what - what was asked, e.g. "create network n1".
   * @param why - why a rootless runtime cannot, and the way around it.
   */
  constructor(what: string, why: string) {
    super('EUNSUPPORTED', `cannot ${what} in a rootless runtime: ${why}`)
  }
}

/** What a rootless runtime offers instead of networks. */
export const rootlessNetworkWorkaround =
  "network modes host and container: are not implemented yet for rootless containers; use a network (the default bridge or one of Network.create), network: 'none' (a loopback of the container's own), or run as root"
