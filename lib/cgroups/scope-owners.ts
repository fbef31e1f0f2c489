/**
 * Which runtime root each runtime's parent cgroup (its scope) belongs to,
 * kept host-wide: a temporary runtime whose process ended without
 * `close()` (a killed test worker, a script that simply exited) leaves its
 * empty scope in every hierarchy, and once that root directory is gone any
 * runtime may remove it, as abandoned bridges are (network/abandoned.ts).
 * One file per scope under /run, a tmpfs on most systems, so the records go
 * with the cgroups at reboot.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { ownerRecords } from '../util/owner-records'

/** Where the scope owner records live. */
export const scopeOwnerDir = '/run/minicontainer-host/cgroups'

/** A record being written (recordScopeOwner), not one to collect. */
const pendingPrefix = '.pending-'

/**
 * Records that `scope` belongs to the runtime at `root` and where it is: its
 * directory in each hierarchy, absolute, because a scope lives under its
 * maker's own cgroup, and a collector in another cgroup (another service, a
 * job of its own) would look for it under its own. Every process that uses
 * the root records it once, while others may be reading: the record is
 * written whole under a temporary name and renamed over the old one, since
 * a reader that saw it truncated would take a live scope for abandoned and
 * remove the cgroups of containers another process is starting.
 */
export function recordScopeOwner(scope: string, root: string, dirs: string[]): void {
  fs.mkdirSync(scopeOwnerDir, { recursive: true })
  const file = path.join(scopeOwnerDir, scope)
  const content = [root, ...dirs].join('\n')
  if (readOwner(file) === content) return
  const tmp = path.join(scopeOwnerDir, `${pendingPrefix}${scope}.${process.pid}`)
  fs.writeFileSync(tmp, content)
  fs.renameSync(tmp, file)
}

function readOwner(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
}

/** A scope whose runtime root is gone. */
export interface AbandonedScope {
  /** The scope's name (`minicontainer-<tag>`). */
  scope: string
  /** Its directory in each hierarchy, as its maker saw them; empty in a record written before they were kept. */
  dirs: string[]
}

/** Scopes whose runtime root no longer exists. */
export function abandonedScopes(): AbandonedScope[] {
  return ownerRecords(scopeOwnerDir)
    .filter((r) => !r.name.startsWith(pendingPrefix))
    .map((r) => ({ scope: r.name, lines: r.owner.split('\n') }))
    .filter(({ lines }) => !fs.existsSync(lines[0]!))
    // A record names only directories of its own scope: never anything else to remove.
    .map(({ scope, lines }) => ({ scope, dirs: lines.slice(1).filter((d) => path.isAbsolute(d) && path.basename(d) === scope) }))
}

/** Forgets the owner of a scope that is gone. */
export function forgetScopeOwner(scope: string): void {
  fs.rmSync(path.join(scopeOwnerDir, scope), { force: true })
}
