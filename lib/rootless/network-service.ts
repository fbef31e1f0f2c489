/**
 * The network service of a rootless runtime. Its networks live in the
 * runtime's own network namespace, held by the keeper inside its user
 * namespace (never the host's: a non-root caller can make no bridge or rule
 * there), so there is nothing on the host to collect or remove. That
 * namespace needs a subordinate id range: without one, making a network is
 * EUNSUPPORTED saying so. Containers run with `network: 'none'` (a loopback
 * of their own) until networks are wired into it; the default, 'bridge',
 * stays the default, as in Docker, and is refused naming that workaround.
 *
 * @module
 */
import { NetworkService, type NetworkServiceOptions } from '../network/service'
import type { CreateNetworkOptions, NetworkInfo } from '../network/types'
import { RootlessUnsupportedError, rootlessNetworkWorkaround } from './errors'
import type { RootlessNetns } from './identity'

/** Options of {@link RootlessNetworkService}. */
export interface RootlessNetworkServiceOptions extends NetworkServiceOptions {
  /** The runtime's network namespace (RootlessIdentity.networkNamespace): EUNSUPPORTED naming `what` without a subordinate range. */
  netns: (what: string) => RootlessNetns
}

/** {@link NetworkService} with nothing on the host: reading works, making is refused. */
export class RootlessNetworkService extends NetworkService {
  private readonly netns: (what: string) => RootlessNetns

  /** @param opts - as NetworkService's, and the runtime's network namespace. */
  constructor(opts: RootlessNetworkServiceOptions) {
    super(opts)
    this.netns = opts.netns
  }

  /** Nothing of a rootless runtime's is on the host: no rule or link to collect. */
  override gc(): Promise<void> {
    return Promise.resolve()
  }

  /** Nothing to remove. */
  override destroy(): Promise<void> {
    return Promise.resolve()
  }

  /** EUNSUPPORTED: without a subordinate range (no namespace to hold networks), and until networks are wired into it. */
  override create(name: string, _opts?: CreateNetworkOptions): Promise<NetworkInfo> {
    const what = `create network ${name}`
    try {
      this.netns(what)
    } catch (err) {
      return Promise.reject(err)
    }
    return Promise.reject(new RootlessUnsupportedError(what, rootlessNetworkWorkaround))
  }

  /** EUNSUPPORTED for the default network, which would be made on first use; others are looked up (there are none). */
  override get(nameOrId: string): Promise<NetworkInfo> {
    if (nameOrId === 'bridge') return Promise.reject(new RootlessUnsupportedError('use the default bridge network', rootlessNetworkWorkaround))
    return super.get(nameOrId)
  }
}
