/**
 * The per-container /etc/hostname, /etc/hosts and /etc/resolv.conf, kept in
 * the container's directory and bind-mounted over the image's: their content.
 *
 * @module
 */
import * as fs from 'node:fs'

const localhostLines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', 'fe00::0\tip6-localnet', 'ff00::0\tip6-mcastprefix', 'ff02::1\tip6-allnodes', 'ff02::2\tip6-allrouters']

/** The host's resolver config, minus loopback servers that mean nothing inside a network namespace; or the given servers. */
function resolvConf(ownNetwork: boolean, dns?: string[]): string {
  if (dns) return dns.map((d) => `nameserver ${d}`).join('\n') + '\n'
  let text = ''
  try {
    text = fs.readFileSync('/etc/resolv.conf', 'utf8')
  } catch {
    return ''
  }
  if (!ownNetwork) return text
  return text
    .split('\n')
    .filter((l) => !/^\s*nameserver\s+(127\.|::1)/.test(l))
    .join('\n')
}

/** A container's hostname, hosts and resolv.conf, as written into its directory at create. */
export interface EtcFiles {
  hostname: string
  hosts: string
  resolvConf: string
}

/**
 * The three files of a container (ContainerStore.create writes them with its
 * directory). `extraHosts` are "ip\tnames" lines after localhost; the network
 * layer later rewrites its own marked section of /etc/hosts in place.
 */
export function etcFiles(hostname: string, opts: { ownNetwork: boolean; extraHosts?: string[]; dns?: string[] }): EtcFiles {
  return {
    hostname: `${hostname}\n`,
    hosts: [...localhostLines, ...(opts.extraHosts ?? [])].join('\n') + '\n',
    resolvConf: resolvConf(opts.ownNetwork, opts.dns),
  }
}
