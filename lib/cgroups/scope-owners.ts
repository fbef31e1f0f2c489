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
 * Records that `scope` belongs to the runtime at `root`. Every process that
 * uses the root records it once, while others may be reading: the record is
 * written whole under a temporary name and renamed over the old one, since
 * a reader that saw it truncated would take a live scope for abandoned and
 * remove the cgroups of containers another process is starting.
 */
export function recordScopeOwner(scope: string, root: string): void {
  fs.mkdirSync(scopeOwnerDir, { recursive: true })
  const file = path.join(scopeOwnerDir, scope)
  if (readOwner(file) === root) return
  const tmp = path.join(scopeOwnerDir, `${pendingPrefix}${scope}.${process.pid}`)
  fs.writeFileSync(tmp, root)
  fs.renameSync(tmp, file)
}

function readOwner(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
}

/** Scopes whose runtime root no longer exists. */
export function abandonedScopes(): string[] {
  return ownerRecords(scopeOwnerDir)
    .filter((r) => !r.name.startsWith(pendingPrefix) && !fs.existsSync(r.owner))
    .map((r) => r.name)
}

/** Forgets the owner of a scope that is gone. */
export function forgetScopeOwner(scope: string): void {
  fs.rmSync(path.join(scopeOwnerDir, scope), { force: true })
}
