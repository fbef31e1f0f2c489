/**
 * The refusal of what rootless mode does not do (yet).
 *
 * @module
 */
import { MiniContainerError } from '../errors'

/**
 * A rootless runtime (a caller that is not root, or `rootless: true`) was
 * asked for something rootless mode does not do: networks without a
 * subordinate id range, resource limits without a delegated cgroup, a
 * long user.* attribute only another id inside may read. The message
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

/**
 * The keeper of a rootless runtime that had made networks ended from outside (killed): its network
 * namespace, where the runtime's bridges, containers' links and published ports were, went with it, and
 * a new keeper would hold another one that none of them is in. The runtime refuses to go on (ECLOSED):
 * close it and open a new one.
 */
export class KeeperLostError extends MiniContainerError {
  /**
   * @param what - what was asked, e.g. "start a container".
   * @param pid - the keeper that ended.
   */
  constructor(what: string, pid: number) {
    super(
      'ECLOSED',
      `cannot ${what}: the rootless runtime's keeper (pid ${pid}) ended from outside, and with it the network namespace of the runtime's networks and published ports; ` +
        'close this runtime (await runtime.close()) and open a new Runtime() to go on',
    )
  }
}
