/**
 * What the host says about rootless containers, read without changing
 * anything: sysctls, this process's seccomp mode, the setuid id-map helpers,
 * /dev/net/tun (cgroup delegation: cgroup-delegation.ts). Each reader returns the raw fact;
 * preflight.ts judges it and names the fix.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { readXattrs } from '../files/xattrs'

/** The `Seccomp:` mode of /proc/self/status: 0 none, 1 strict, 2 filter (Docker's default profile, systemd's SystemCallFilter). */
export function seccompMode(status = fs.readFileSync('/proc/self/status', 'utf8')): number | undefined {
  const m = /^Seccomp:\s*(\d+)/m.exec(status)
  return m ? Number(m[1]) : undefined
}

/** Where an id-map helper was found and whether it can write maps for an ordinary user. */
export interface HelperFact {
  /** Its path, when found. */
  path?: string
  /** setuid root, or root-owned with file capabilities (Fedora's newuidmap has cap_setuid instead of the setuid bit). */
  privileged: boolean
}

const helperDirs = ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin']

/** Finds `name` (newuidmap, newgidmap) in the system directories and tells whether it is privileged. */
export function findHelper(name: string): HelperFact {
  for (const dir of helperDirs) {
    const file = path.join(dir, name)
    let st: fs.Stats
    try {
      st = fs.statSync(file)
    } catch {
      continue
    }
    if (!st.isFile()) continue
    return { path: file, privileged: st.uid === 0 && ((st.mode & 0o4000) !== 0 || hasFileCapabilities(file)) }
  }
  return { privileged: false }
}

function hasFileCapabilities(file: string): boolean {
  const fd = fs.openSync(file, 'r')
  try {
    return readXattrs(fd, (name) => name === 'security.capability') !== undefined
  } catch {
    return false
  } finally {
    fs.closeSync(fd)
  }
}

/** Whether the caller may open /dev/net/tun read-write (pasta and slirp4netns need it for egress), else the errno. */
export function tunAccess(tunPath = '/dev/net/tun'): true | string {
  try {
    // Opened for real, as pasta and slirp4netns will: access() can pass where open() is refused (a device cgroup).
    fs.closeSync(fs.openSync(tunPath, fs.constants.O_RDWR))
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'EACCES'
  }
}
