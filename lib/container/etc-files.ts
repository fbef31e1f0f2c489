/**
 * The per-container /etc/hostname, /etc/hosts and /etc/resolv.conf, kept in
 * the container's directory and bind-mounted over the image's.
 *
 * @module
 */
import * as fs from 'node:fs'
import type { ContainerPaths } from './store'

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

/** Writes the three files for a container. `extraHosts` are "ip\tnames" lines added after localhost. */
export function writeEtcFiles(p: ContainerPaths, hostname: string, opts: { ownNetwork: boolean; address?: string; extraHosts?: string[]; dns?: string[] }): void {
  fs.writeFileSync(p.hostname, `${hostname}\n`)
  writeHosts(p.hosts, hostname, opts.address, opts.extraHosts ?? [])
  fs.writeFileSync(p.resolvConf, resolvConf(opts.ownNetwork, opts.dns))
}

/**
 * Rewrites /etc/hosts in place: it is bind-mounted into a running
 * container, so replacing the file (a rename) would leave the container
 * looking at the old inode.
 */
export function writeHosts(file: string, hostname: string, address: string | undefined, extraHosts: string[]): void {
  const lines = [...localhostLines, ...extraHosts, ...(address ? [`${address}\t${hostname}`] : [])]
  const fd = fs.openSync(file, fs.existsSync(file) ? 'r+' : 'w')
  try {
    const data = Buffer.from(lines.join('\n') + '\n')
    fs.ftruncateSync(fd, 0)
    fs.writeSync(fd, data, 0, data.length, 0)
  } finally {
    fs.closeSync(fd)
  }
}
