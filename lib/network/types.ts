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
  /** Full id of the network (Docker's `NetworkID`). */
  networkId: string
  /** The container's IPv4 address on this network, e.g. "10.89.0.2". */
  ipAddress: string
  /** The network's gateway: the host's address on its bridge, the container's default route when this is eth0. */
  gateway: string
  /** MAC address of the container's interface: "02:42:" then the four bytes of its IPv4 address, as Docker makes it. */
  macAddress: string
  /** Prefix length of the network's subnet, e.g. 24. */
  ipPrefixLen: number
  /** Extra names the container has on this network (`--network-alias`, `connect({ aliases })`); user networks only. */
  aliases: string[]
}

/** One host binding of a published port. */
export interface HostBinding {
  /** Host address the port is published on; "0.0.0.0" for every address of the host. */
  hostIp: string
  /** Host port (as in `docker port`), a number as a string, e.g. "8080"; the one picked when the spec left it out. */
  hostPort: string
}

/** A container's network state, Docker's `NetworkSettings`. */
export interface NetworkSettings {
  /** Address on the first (primary) network. */
  ipAddress: string
  /** Gateway of the primary network (the container's default route); "" without bridge networking. */
  gateway: string
  /** MAC address of the container's primary interface (eth0); "" without bridge networking. */
  macAddress: string
  /** Prefix length of the primary network's subnet, e.g. 24; 0 without bridge networking. */
  ipPrefixLen: number
  /** "80/tcp" -> bindings. */
  ports: Record<string, HostBinding[]>
  /** Network name -> attachment. */
  networks: Record<string, EndpointSettings>
}

/** What every view of a network shows. */
export interface NetworkBase {
  /** Full id (64 hex digits); `Network.get()` also takes a unique prefix. */
  id: string
  /** Name, unique within the runtime; "bridge" is the default network. */
  name: string
  /** Always "bridge": a Linux bridge on the host, as Docker's default driver. */
  driver: 'bridge'
  /** Host interface name of the bridge. */
  bridge: string
  /** IPv4 subnet in CIDR form, e.g. "10.89.0.0/24". */
  subnet: string
  /** The bridge's address, the containers' default route, e.g. "10.89.0.1". */
  gateway: string
  /** No traffic in or out of the network, only between its containers (`--internal`). */
  internal: boolean
  /** Labels given at create. */
  labels: Record<string, string>
  /** Creation time, ISO 8601. */
  created: string
}

/** A network as `Network.inspect()` shows it. */
export interface NetworkInfo extends NetworkBase {
  /** The attached containers, by full container id (Docker's `Containers`). */
  containers: Record<string, {
    /** The container's name. */
    name: string
    /** Its IPv4 address on this network. */
    ipAddress: string
    /** Its MAC address on this network. */
    macAddress: string
    /** Its extra names on this network. */
    aliases: string[]
  }>
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
  /** Names written into the hosts file with the primary network's gateway, the host's address on it (`--add-host name:host-gateway`). */
  hostGatewayNames?: string[]
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
  /**
   * Extra /etc/hosts lines as `"name:IPv4"` (`--add-host`); `"name:host-gateway"` is the host's
   * address on the container's network (its gateway), as in Docker: `['host.docker.internal:host-gateway']`.
   */
  extraHosts?: string[]
  /**
   * Ports of the host's loopback (the app under test) a container reaches as
   * `host.minicontainer.internal:<port>`, `host.testcontainers.internal:<port>` or `host.docker.internal:<port>`, as testcontainers'
   * `TestContainers.exposeHostPorts`: `[3000]`. Relayed to 127.0.0.1 from the container's network
   * gateway while the container runs (bridge and user networks), or reached directly on the host
   * network. None is open by default.
   */
  exposeHostPorts?: number[]
  /** Published ports (`-p`): `"8080:80"`, `"127.0.0.1::53/udp"`, `"80"` (ephemeral host port), ranges `"8000-8001:80-81"`. */
  ports?: string[]
  /** Publish every exposed port of the image on an ephemeral host port (`-P`). */
  publishAll?: boolean
}

/** Options of `Network.connect`. */
export interface AttachOptions {
  /** Static IPv4 address inside the network's subnet (`docker network connect --ip`); default: the lowest free one. */
  ip?: string
  /** Extra names the container answers to on this network (`--alias`). */
  aliases?: string[]
}

/** Options of `Network.create`. */
export interface CreateNetworkOptions {
  /** IPv4 subnet in CIDR form (`--subnet`), e.g. "192.168.90.0/24"; default: the next free /24 of the runtime's pools. EINVALID when it overlaps another network or a host route. */
  subnet?: string
  /** The bridge's address in the subnet (`--gateway`); default: its first host address (.1). */
  gateway?: string
  /** No traffic in or out of the network, only between its containers (`--internal`); default false. */
  internal?: boolean
  /** Labels for your own bookkeeping (`--label`), shown by `inspect()`. */
  labels?: Record<string, string>
}
