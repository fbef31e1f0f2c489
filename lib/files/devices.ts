/**
 * Where device nodes of a layer are created: as Docker does, only when the
 * process may make them, i.e. as root outside a user namespace (a rootless
 * engine skips them; inside a user namespace mknod of a device is EPERM).
 *
 * @module
 */
import * as fs from 'node:fs'

let cached: boolean | undefined

/** Whether the process's uid map is the initial namespace's identity map (not a user namespace). */
function initialUserNs(): boolean {
  try {
    const [inside, outside, count] = fs.readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/)
    return inside === '0' && outside === '0' && count === '4294967295'
  } catch {
    return false
  }
}

/** Whether layer unpacking creates char and block devices (root, not in a user namespace). */
export function mayCreateDevices(): boolean {
  cached ??= process.geteuid?.() === 0 && initialUserNs()
  return cached
}
