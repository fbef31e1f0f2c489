/**
 * Where a runtime's networks live: the host's network namespace (a root
 * runtime: bridges next to the host's links, DNAT rules, host-wide subnet
 * claims and sysctls), or a private namespace reached through netlink
 * sockets opened there (a rootless runtime's, held by its keeper). The
 * network code is the same for both; only what differs is given here.
 *
 * @module
 */
import { backgroundAsyncCalls } from '../sys/koffi-async'
import { createNetns, createNetnsIpv6Off, type HeldIpv6Default } from '../sys/netns'
import { NfNetlink } from './nfnetlink'
import type { Firewall } from './nftables'
import { firewallForwarding, type PortForwarding } from './port-forwarding'
import { Rtnl } from './rtnl'

/** A container's namespace made ahead of its start (./warm-endpoints). */
export interface NetnsMadeAhead {
  /** The namespace (the caller closes it). */
  fd: number
  /**
   * When its IPv6 default is held off, so that the pair made in it next has its end born without
   * IPv6 (the host's place): the caller restores it once the pair is made (or disposes of it).
   */
  ipv6Default?: HeldIpv6Default
}

/** The namespace holding a runtime's bridges and rules, and how its containers' namespaces are made and reached. */
export interface NetworkPlace {
  /**
   * Whether it is the host's namespace, shared with the host and other runtimes: subnets are claimed
   * host-wide, abandoned runtimes' objects collected, sysctls and bridge-port flags set through
   * /proc and /sys (which show the host's), published ports made as DNAT rules.
   */
  readonly isHost: boolean
  /** rtnetlink and nf_tables sockets of the namespace (the caller closes them). */
  open(): Promise<{ rtnl: Rtnl; nfnl: NfNetlink }>
  /** A fresh network namespace for a container, as an fd the caller closes (only lo, down). */
  newContainerNetns(): number
  /**
   * As {@link newContainerNetns}, for work off any start's path (warm endpoints), made without
   * holding the event loop where the place can (the host's, from the main thread: on a libuv worker).
   */
  newContainerNetnsOffPath(): Promise<NetnsMadeAhead>
  /**
   * An rtnetlink socket inside a container's namespace (the caller closes it). `offPath`: its requests
   * are work off any start's path (warm endpoints), sent without holding the event loop where the
   * place can (the host's, from the main thread: on a libuv worker; ../sys/koffi-async backgroundAsyncCalls).
   */
  inside(netnsFd: number, offPath?: boolean): Promise<Rtnl>
  /** How published ports reach containers there (`fw`: the runtime's firewall in that namespace). */
  forwarding(fw: () => Firewall): PortForwarding
  /** The namespace's path, for a relay to listen in; undefined when it is this process's own. */
  bridgesNetns(): string | undefined
}

/** The host's own namespace (root runtimes): this thread's, entered by setns where a container's is needed. */
export const hostPlace: NetworkPlace = {
  isHost: true,
  open: () => Promise.resolve({ rtnl: Rtnl.current(), nfnl: new NfNetlink() }),
  newContainerNetns: createNetns,
  newContainerNetnsOffPath: createNetnsIpv6Off,
  inside: (netnsFd, offPath = false) => Promise.resolve(Rtnl.inNetns(netnsFd, { onWorker: offPath && backgroundAsyncCalls })),
  forwarding: firewallForwarding,
  bridgesNetns: () => undefined,
}
