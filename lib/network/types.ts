/**
 * Public shapes of the network layer: what `inspect()` shows (Docker's
 * field names, camel-cased) and what callers pass in.
 *
 * @module
 */

/** A `links` entry: `ip` is reachable as `alias` and `name`. */
export interface LinkEntry {
  name: string
  alias: string
  ip: string
}

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

/** The network options of `run()` and `Container.create()`, named like `docker run`'s flags. */
export interface NetworkRunOptions {
  /** Static IPv4 address on a user network (`--ip`). */
  ip?: string
  /** Extra names on a user network (`--network-alias`). */
  aliases?: string[]
  /** Legacy links on the default bridge (`--link name[:alias]`). */
  links?: string[]
  /** Nameservers written into /etc/resolv.conf instead of the host's (`--dns`). */
  dns?: string[]
  /** Extra /etc/hosts lines as `"name:IPv4"` (`--add-host`). */
  extraHosts?: string[]
  /** Published ports (`-p`): `"8080:80"`, `"127.0.0.1::53/udp"`, `"80"` (ephemeral host port). */
  ports?: string[]
  /** Publish every exposed port of the image on an ephemeral host port (`-P`). */
  publishAll?: boolean
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
