/**
 * The network layer: bridges, veths, addresses and routes over rtnetlink,
 * NAT and published ports over nf_tables netlink, name resolution through
 * hosts files. {@link Network} is the public API; {@link NetworkService} is
 * what the container lifecycle drives (through ./lifecycle).
 *
 * @module
 */
export { Network, type ContainerLike } from './network'
export { NetworkService, DEFAULT_NETWORK, type NetworkServiceOptions } from './service'
export type { NetworkSettings, EndpointSettings, NetworkInfo, HostBinding, ContainerRef, ConnectOptions, AttachOptions, CreateNetworkOptions } from './types'
export { NetworkNotFoundError, PortInUseError, AddressInUseError, NetworkInUseError, NoFreeSubnetError, NftablesError } from './errors'
export { defaultSubnetPools } from './ipam'
