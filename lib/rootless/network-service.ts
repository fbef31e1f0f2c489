/**
 * The network service of a rootless runtime, until rootless networking
 * exists: it has made no bridge, rule or nf_tables table (a non-root caller
 * cannot, in the host's namespaces), so there is nothing to collect or
 * remove, and making a network is EUNSUPPORTED instead of a raw EPERM from
 * netlink or EACCES from the host's subnet claims. Containers run with
 * `network: 'none'` (a loopback of their own); the default, 'bridge', stays
 * the default, as in Docker, and is refused naming that workaround.
 *
 * @module
 */
import { NetworkService } from '../network/service'
import type { CreateNetworkOptions, NetworkInfo } from '../network/types'
import { RootlessUnsupportedError, rootlessNetworkWorkaround } from './errors'

/** {@link NetworkService} with nothing on the host: reading works, making is refused. */
export class RootlessNetworkService extends NetworkService {
  /** Nothing of a rootless runtime's is on the host: no rule or link to collect. */
  override gc(): Promise<void> {
    return Promise.resolve()
  }

  /** Nothing to remove. */
  override destroy(): Promise<void> {
    return Promise.resolve()
  }

  /** EUNSUPPORTED: rootless networks are not implemented yet. */
  override create(name: string, _opts?: CreateNetworkOptions): Promise<NetworkInfo> {
    return Promise.reject(new RootlessUnsupportedError(`create network ${name}`, rootlessNetworkWorkaround))
  }

  /** EUNSUPPORTED for the default network, which would be made on first use; others are looked up (there are none). */
  override get(nameOrId: string): Promise<NetworkInfo> {
    if (nameOrId === 'bridge') return Promise.reject(new RootlessUnsupportedError('use the default bridge network', rootlessNetworkWorkaround))
    return super.get(nameOrId)
  }
}
