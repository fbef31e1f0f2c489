/**
 * What a rootless runtime answers to a create or a start until rootless
 * containers exist: EUSERNS when the host refuses user namespaces (the probe
 * says why and the fix: that is the first thing to mend), else EUNSUPPORTED.
 *
 * @module
 */
import { RootlessUnsupportedError } from './errors'
import { readUsernsContext, userNamespaceError, usernsBlocked } from './userns-cause'
import { probeUserNamespace } from './userns-probe'

/** Rejects with EUSERNS (user namespaces blocked here) or EUNSUPPORTED (not implemented yet), naming `what`. */
export async function refuseRootless(what: string): Promise<never> {
  const probe = await probeUserNamespace()
  if (usernsBlocked(probe))
throw userNamespaceError(probe, readUsernsContext())
  throw new RootlessUnsupportedError(what)
}
