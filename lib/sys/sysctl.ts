/**
 * Reading a sysctl from /proc/sys.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

/** A numeric sysctl ("net.ipv4.ip_unprivileged_port_start"), or undefined when this kernel has none or it is not a number. */
export function readSysctl(name: string): number | undefined {
  try {
    const text = fs.readFileSync(path.join('/proc/sys', name.replace(/\./g, '/')), 'utf8').trim()
    return /^-?\d+$/.test(text) ? Number(text) : undefined
  } catch {
    return undefined
  }
}
