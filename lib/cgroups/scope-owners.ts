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

/** Records that `scope` belongs to the runtime at `root`. */
export function recordScopeOwner(scope: string, root: string): void {
  fs.mkdirSync(scopeOwnerDir, { recursive: true })
  fs.writeFileSync(path.join(scopeOwnerDir, scope), root)
}

/** Scopes whose runtime root no longer exists. */
export function abandonedScopes(): string[] {
  return ownerRecords(scopeOwnerDir)
    .filter((r) => !fs.existsSync(r.owner))
    .map((r) => r.name)
}

/** Forgets the owner of a scope that is gone. */
export function forgetScopeOwner(scope: string): void {
  fs.rmSync(path.join(scopeOwnerDir, scope), { force: true })
}
