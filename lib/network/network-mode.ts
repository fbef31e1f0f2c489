/**
 * Which network modes give a container network state of its own.
 *
 * @module
 */

/**
 * Whether a container of network `mode` joins networks (bridge or user networks: endpoints, addresses,
 * rules, hosts entries). `none`, `host` and `container:<name>` join none, ever: they cannot be
 * connected to a network either, so there is nothing of theirs to release when they exit.
 */
export function joinsNetworks(mode: string): boolean {
  return mode !== 'none' && mode !== 'host' && !mode.startsWith('container:')
}
