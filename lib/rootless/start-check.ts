/**
 * What a rootless runtime checks before its first create or start: that this
 * host lets the shim make user namespaces and mount in them (EUSERNS naming
 * the cause and the fix otherwise, before anything is made), once per
 * process. (The warning that containers map the caller alone is ./identity's.)
 *
 * @module
 */
import { readUsernsContext, userNamespaceError, usernsBlocked } from './userns-cause'
import { probeUserNamespace } from './userns-probe'

let checked: Promise<void> | undefined

async function check(): Promise<void> {
  const probe = await probeUserNamespace()
  if (usernsBlocked(probe)) throw userNamespaceError(probe, readUsernsContext())
}

/**
 * Resolves once user namespaces are known to work here (probed once per process; a refusal is
 * not cached, so a fixed host is seen at the next start); rejects with EUSERNS otherwise.
 */
export function requireUserNamespaces(): Promise<void> {
  checked ??= check().catch((err: unknown) => {
    checked = undefined
    throw err
  })
  return checked
}
