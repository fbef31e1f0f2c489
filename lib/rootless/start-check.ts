/**
 * What a rootless runtime checks before its first create or start: that this
 * host lets the shim make user namespaces and mount in them (EUSERNS naming
 * the cause and the fix otherwise, before anything is made), once per
 * process; and the one warning that rootless containers map the caller alone.
 *
 * @module
 */
import { readUsernsContext, userNamespaceError, usernsBlocked } from './userns-cause'
import { probeUserNamespace } from './userns-probe'

let checked: Promise<void> | undefined

/** The warning's code, for `process.on('warning')` filters. */
export const singleUidWarning = 'MINICONTAINER_SINGLE_UID'

async function check(): Promise<void> {
  const probe = await probeUserNamespace()
  if (usernsBlocked(probe)) throw userNamespaceError(probe, readUsernsContext())
  process.emitWarning(
    'rootless containers map root inside to your uid alone: image files owned by other ids were given to you when unpacked, ' +
      'and a container cannot switch to another user (a non-root image USER fails to start). Mapping a subordinate range (/etc/subuid) is not implemented yet.',
    { code: singleUidWarning },
  )
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
