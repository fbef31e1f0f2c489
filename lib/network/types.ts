/**
 * Public shapes of the network layer: what `inspect()` shows (Docker's
 * field names, camel-cased) and what callers pass in.
 *
 * @module
 */
import type { LinkEntry } from './store'

/** A container's attachment to one network, as inspect shows it. */
export interface EndpointSettings {
  networkId: string
  ipAddress: string
  gateway: string
  macAddress: string
  ipPrefixLen: number
  aliases: string[]
}

/** One host binding of a published port. */
export interface HostBinding {
  hostIp: string
  hostPort: string
}

/** A container's network state, Docker's `NetworkSettings`. */
export interface NetworkSettings {
  /** Address on the first (primary) network. */
  ipAddress: string
  gateway: string
  macAddress: string
  ipPrefixLen: number
  /** "80/tcp" -> bindings. */
  ports: Record<string, HostBinding[]>
  /** Network name -> attachment. */
  networks: Record<string, EndpointSettings>
}

/** What every view of a network shows. */
export interface NetworkBase {
  id: string
  name: string
  driver: 'bridge'
  /** Host interface name of the bridge. */
  bridge: string
  subnet: string
  gateway: string
  internal: boolean
  labels: Record<string, string>
  created: string
}

/** A network as `Network.inspect()` shows it. */
export interface NetworkInfo extends NetworkBase {
  containers: Record<string, { name: string; ipAddress: string; macAddress: string; aliases: string[] }>
}

/** The container as the network layer needs to know it. */
export interface ContainerRef {
  id: string
  name: string
  hostname: string
  /** Host path of the container's /etc/hosts (bind-mounted); peers' names are kept up to date in it. */
  hostsFile?: string
}

/** Options of {@link NetworkService.connect}. */
export interface ConnectOptions {
  /** Static address (user networks only). */
  ip?: string
  /** Extra names on the network (user networks only). */
  aliases?: string[]
  /** Legacy links: `ip` reachable as `alias` and `name`. */
  links?: LinkEntry[]
  /** `-p` specs. */
  ports?: string[]
  /** `-P`: publish every exposed port on an ephemeral host port. */
  publishAll?: boolean
  /** The image's exposed ports ("80/tcp"), used by `publishAll`. */
  exposedPorts?: string[]
}

/** Options of `Network.connect`. */
export interface AttachOptions {
  ip?: string
  aliases?: string[]
}

/** Options of `Network.create`. */
export interface CreateNetworkOptions {
  subnet?: string
  gateway?: string
  internal?: boolean
  labels?: Record<string, string>
}
