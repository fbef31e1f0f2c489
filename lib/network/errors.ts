/**
 * Errors of the network layer. All are {@link MiniContainerError}s with
 * codes from the shared union, so callers branch on `err.code`.
 *
 * @module
 */
import { MiniContainerError } from '../errors'

/** No network matches a name or id. */
export class NetworkNotFoundError extends MiniContainerError {
  /** @param ref - the name or id looked up. */
  constructor(readonly ref: string) {
    super('ENONETWORK', `no such network: ${ref} (create it with Network.create("${ref}"))`)
  }
}

/** A host port is already taken by a host process or another container. */
export class PortInUseError extends MiniContainerError {
  /** @param binding - e.g. "0.0.0.0:8080/tcp"; @param owner - who holds it. */
  constructor(
    readonly binding: string,
    owner: string,
  ) {
    super('EPORTINUSE', `host port ${binding} is already in use by ${owner}; choose another host port or stop its user`)
  }
}

/**
 * A host port below net.ipv4.ip_unprivileged_port_start asked for by a caller
 * that is not root (rootless): the kernel keeps such ports for privileged
 * processes. Nothing was published.
 */
export class PortPrivilegedError extends MiniContainerError {
  /** @param binding - e.g. "0.0.0.0:80/tcp"; @param unprivilegedStart - the sysctl's value (the lowest port a user may bind). */
  constructor(
    readonly binding: string,
    readonly unprivilegedStart: number,
  ) {
    super(
      'EPORTPRIVILEGED',
      `host port ${binding} is below net.ipv4.ip_unprivileged_port_start (${unprivilegedStart}), so only root may bind it; ` +
        `publish on a port >= ${unprivilegedStart}, or let users bind it (sysctl -w net.ipv4.ip_unprivileged_port_start=<port>, as root)`,
    )
  }
}

/** A static address is taken (by the gateway or another container). */
export class AddressInUseError extends MiniContainerError {
  /** @param ip - the requested address; @param owner - who holds it. */
  constructor(
    readonly ip: string,
    owner: string,
  ) {
    super('EINUSE', `address ${ip} is already in use by ${owner}; pick another address or leave "ip" unset`)
  }
}

/** A network cannot be removed while containers are attached. */
export class NetworkInUseError extends MiniContainerError {
  /** @param name - the network; @param containers - names of attached containers. */
  constructor(name: string, containers: string[]) {
    super('EINUSE', `network ${name} has containers attached (${containers.join(', ')}); stop or disconnect them first`)
  }
}

/** No subnet (or no address in a subnet) is left to allocate. */
export class NoFreeSubnetError extends MiniContainerError {
  /** @param message - what ran out and what to do. */
  constructor(message: string) {
    super('ENONETWORK', message)
  }
}

/** The kernel rejected an nf_tables batch. */
export class NftablesError extends MiniContainerError {
  /** @param op - what the batch did; @param errno - the kernel's errno name. */
  constructor(
    op: string,
    readonly errno: string,
  ) {
    super('ESYSCALL', `nf_tables ${op} failed: ${errno}${errno === 'EPROTONOSUPPORT' || errno === 'ENOENT' ? ' (is the nf_tables/nft_nat kernel module available?)' : ''}`)
  }
}

/**
 * The host filters forwarded packets with iptables-legacy (x_tables), which
 * minicontainer does not write to, so its bridges' traffic may be dropped there.
 */
export class LegacyFirewallError extends MiniContainerError {
  /** @param bridge - the bridge that would be cut off. */
  constructor(readonly bridge: string) {
    super(
      'EFIREWALL',
      `this host filters forwarded traffic with iptables-legacy, which minicontainer does not write to, so bridge ${bridge} may be cut off. ` +
        'Either switch to iptables-nft (update-alternatives --set iptables /usr/sbin/iptables-nft, then restart Docker or reload your rules), ' +
        'or allow minicontainer\'s bridges yourself (iptables-legacy -I FORWARD -i mc+ -j ACCEPT; iptables-legacy -I FORWARD -o mc+ -j ACCEPT) ' +
        'and set MINICONTAINER_IPTABLES_LEGACY=accept',
    )
  }
}
